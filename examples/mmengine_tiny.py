"""A tiny MMEngine training with MMDetection's loss names, logged the way MMDetection 3.x logs.

    python examples/mmengine_tiny.py WORK_DIR [--tensorboard]

MMDetection 3.x trains through MMEngine's `Runner`; its default `vis_backends` is
`[dict(type='LocalVisBackend')]`, which writes `WORK_DIR/<timestamp>/vis_data/scalars.json`
and no TensorBoard file. `--tensorboard` adds `TensorboardVisBackend` (what users switch on for
TensorBoard), which writes the same scalars as events in the same `vis_data` directory. Then:

    detloss import WORK_DIR && tensorboard --logdir WORK_DIR

The model is a toy (a linear layer on random data) whose loss dict has the keys of a
two-stage detector: `loss_rpn_cls`, `loss_rpn_bbox`, `loss_cls`, `loss_bbox`, and the accuracy
`acc` (a metric, not a loss). Validation computes `coco/bbox_mAP` every epoch.
"""

import argparse
import sys

import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset


class Boxes(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(n)
        self.x = torch.randn(n, 8, generator=g)
        self.y = torch.randn(n, 4, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"inputs": self.x[i], "targets": self.y[i]}


class TwoStage(BaseModel):
    def __init__(self):
        super().__init__()
        self.rpn = torch.nn.Linear(8, 2)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, inputs, targets, mode="tensor"):
        rpn, head = self.rpn(inputs), self.head(inputs)
        if mode == "loss":
            return {
                "loss_rpn_cls": rpn[:, 0].pow(2).mean(),
                "loss_rpn_bbox": (rpn[:, 1] - targets[:, 0]).abs().mean(),
                "loss_cls": (head[:, :2] - targets[:, :2]).pow(2).mean(),
                "loss_bbox": (head[:, 2:] - targets[:, 2:]).abs().mean(),
                "acc": (head[:, 0] * targets[:, 0] > 0).float().mean() * 100,
            }
        return list(zip(head, targets))


class BoxMAP(BaseMetric):
    default_prefix = "coco"

    def process(self, data_batch, data_samples):
        for head, targets in data_samples:
            self.results.append(float((head - targets).abs().mean()))

    def compute_metrics(self, results):
        return {"bbox_mAP": 1.0 / (1.0 + sum(results) / len(results))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("--tensorboard", action="store_true")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    backends = [dict(type="LocalVisBackend")]
    if args.tensorboard:
        backends.append(dict(type="TensorboardVisBackend"))
    runner = Runner(
        model=TwoStage(),
        work_dir=args.work_dir,
        train_dataloader=dict(dataset=Boxes(160), batch_size=8,
                              sampler=dict(type="DefaultSampler", shuffle=True),
                              collate_fn=dict(type="default_collate")),
        val_dataloader=dict(dataset=Boxes(40), batch_size=8,
                            sampler=dict(type="DefaultSampler", shuffle=False),
                            collate_fn=dict(type="default_collate")),
        val_evaluator=dict(type=BoxMAP),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=args.epochs, val_interval=1),
        val_cfg=dict(),
        default_hooks=dict(logger=dict(type="LoggerHook", interval=5),
                           checkpoint=dict(type="CheckpointHook", interval=1000)),
        visualizer=dict(type="Visualizer", vis_backends=backends),
        randomness=dict(seed=0),
    )
    runner.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
