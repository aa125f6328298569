"""A plain PyTorch loop whose model returns a dict of losses, as torchvision's detection models
do in training mode; the dict goes to detloss as it is (tensors, no .item()).

    python examples/pytorch_loop.py logs/torch_loop
"""

import argparse

import torch
from torch.utils.tensorboard import SummaryWriter

import tensorboard_plugin_detloss as detloss


class TinyTwoStage(torch.nn.Module):
    """Returns torchvision-style loss names: loss_classifier, loss_box_reg, loss_objectness,
    loss_rpn_box_reg."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(8, 32)
        self.rpn = torch.nn.Linear(32, 5)
        self.head = torch.nn.Linear(32, 7)

    def forward(self, x, target):
        f = torch.relu(self.backbone(x))
        rpn, head = self.rpn(f), self.head(f)
        return {
            "loss_objectness": torch.nn.functional.binary_cross_entropy_with_logits(
                rpn[:, 0], target["objectness"]),
            "loss_rpn_box_reg": torch.nn.functional.smooth_l1_loss(rpn[:, 1:], target["boxes"]),
            "loss_classifier": torch.nn.functional.cross_entropy(head[:, :3], target["labels"]),
            "loss_box_reg": torch.nn.functional.smooth_l1_loss(head[:, 3:], target["boxes"]),
        }


def batch(n, g):
    x = torch.randn(n, 8, generator=g)
    return x, {"objectness": (x[:, 0] > 0).float(), "boxes": torch.tanh(x[:, 1:5]),
               "labels": (x[:, 5] > 0).long() + (x[:, 6] > 0).long()}


def train(log_dir, epochs=3, iters=30):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = TinyTwoStage()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(log_dir)
    step = 0
    for epoch in range(epochs):
        for _ in range(iters):
            loss_dict = model(*batch(32, g))
            loss = sum(loss_dict.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            detloss.summary.write(loss_dict, step=step, total=loss, writer=writer)
            step += 1
        with torch.no_grad():
            val = model(*batch(256, torch.Generator().manual_seed(1)))
        detloss.summary.write(val, step=step - 1, split="val", writer=writer)
    writer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log_dir")
    args = parser.parse_args()
    train(args.log_dir)
    print("wrote", args.log_dir)
