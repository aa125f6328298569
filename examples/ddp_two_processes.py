"""Two-process DDP training (gloo, CPU) logging the loss breakdown from rank 0 only, averaged
across ranks with one all_reduce per step.

    python examples/ddp_two_processes.py logs/ddp

Each rank computes its own components; detloss.distributed.write averages them (so the logged
values are those of the global batch) and rank 0 writes.
"""

import argparse
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import tensorboard_plugin_detloss as detloss


def worker(rank, world, logdir, init_file, steps):
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank,
                            world_size=world)
    torch.manual_seed(rank)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 5))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    writer = detloss.summary.FileWriter(logdir) if rank == 0 else None
    gains = {"box": 7.5, "cls": 0.5}
    for step in range(steps):
        x = torch.randn(16, 8)
        out = model(x)
        # Stand-ins for a detector's parts; rank-dependent so the mean is visible.
        losses = {"box": (out[:, :4] - 0.1 * (rank + 1)).pow(2).mean(),
                  "cls": (out[:, 4] - 1.0).pow(2).mean()}
        loss = sum(gains[k] * v for k, v in losses.items())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        detloss.distributed.write(losses, step=step, weights=gains, total=loss, writer=writer)
    if writer is not None:
        writer.close()
    dist.destroy_process_group()


def main(logdir, steps=20, world=2):
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(world, logdir, os.path.join(tmp, "init"), steps), nprocs=world)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("logdir")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    main(args.logdir, args.steps)
    print("wrote", args.logdir)
