"""Distributed training (torch.distributed / DDP): only rank 0 writes.

    detloss.distributed.write(loss_dict, step=step, weights=gains, writer=writer)

Call it on every rank (the writer may be None on ranks other than 0). With `reduce="mean"` (the
default) the components — and the total — are averaged across ranks with ONE `all_reduce` of a
single tensor, so the breakdown reflects the global batch; every rank must then call it with the
same component names in the same order, as for any collective. With `reduce=None` there is no
collective: rank 0 writes its own values and the other ranks do nothing.
"""

import torch
import torch.distributed as dist

from tensorboard_plugin_detloss import summary


def _rank(group):
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(group), dist.get_world_size(group)


def write(components, step, split="train", weights=None, total=None, name="loss", writer=None,
          reduce="mean", group=None, walltime=None):
    """Like `detloss.summary.write`, for a job of several processes.

    Returns True on the rank that wrote, False on the others.
    """
    if reduce not in ("mean", None):
        raise ValueError("reduce must be 'mean' or None, got %r" % (reduce,))
    rank, world = _rank(group)
    summary._check_names(components, weights)
    if reduce == "mean" and world > 1:
        names = list(components)
        parts = [_as_tensor("components", k, components[k]) for k in names]
        if total is not None:
            parts.append(_as_tensor("total", "total", total))
        device = next((p.device for p in parts if p.device.type != "cpu"), torch.device("cpu"))
        vector = torch.stack([p.to(device=device, dtype=torch.float64) for p in parts])
        dist.all_reduce(vector, op=dist.ReduceOp.SUM, group=group)
        values = (vector / world).cpu().tolist()
        components = dict(zip(names, values[:len(names)]))
        if total is not None:
            total = values[-1]
    if rank != 0:
        return False
    if writer is None:
        raise ValueError("writer is required on rank 0 (a SummaryWriter or detloss FileWriter)")
    return summary.write(components, step=step, split=split, weights=weights, total=total,
                         name=name, writer=writer, walltime=walltime)


def _as_tensor(arg, key, value):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError("%s[%r] must be a scalar tensor, got shape %s"
                             % (arg, key, tuple(value.shape)))
        return value.detach().reshape(())
    return torch.tensor(summary._number(arg, key, value), dtype=torch.float64)
