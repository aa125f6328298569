"""A LightningModule whose steps return their loss components, logged by
`detloss.lightning.LossBreakdown` into the trainer's TensorBoard logger.

    python examples/lightning_detector.py logs/lightning     # a few seconds on a CPU
    tensorboard --logdir logs/lightning
"""

import argparse

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

import tensorboard_plugin_detloss as detloss


class TinyDetector(L.LightningModule):
    loss_weights = {"box": 7.5, "cls": 0.5}  # picked up by the callback

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 5))

    def _parts(self, batch):
        x, boxes, labels = batch
        out = self.net(x)
        return {"box": torch.nn.functional.l1_loss(out[:, :4], boxes),
                "cls": torch.nn.functional.binary_cross_entropy_with_logits(out[:, 4], labels)}

    def training_step(self, batch, batch_idx):
        parts = self._parts(batch)
        loss = sum(self.loss_weights[k] * v for k, v in parts.items())
        return {"loss": loss, "loss_components": parts}

    def validation_step(self, batch, batch_idx):
        parts = self._parts(batch)
        return {"loss": sum(self.loss_weights[k] * v for k, v in parts.items()),
                "loss_components": parts}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    boxes = torch.sigmoid(x[:, :4])
    labels = (x[:, 4] > 0).float()
    return torch.utils.data.TensorDataset(x, boxes, labels)


def train(log_dir, epochs=3):
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(max_epochs=epochs, logger=TensorBoardLogger(log_dir, name="tiny"),
                        callbacks=[detloss.lightning.LossBreakdown()], log_every_n_steps=2,
                        enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, accelerator="cpu", devices=1)
    trainer.fit(TinyDetector(), torch.utils.data.DataLoader(data(256, 0), batch_size=16),
                torch.utils.data.DataLoader(data(64, 1), batch_size=16))
    return trainer


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log_dir")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    trainer = train(args.log_dir, args.epochs)
    print("wrote", trainer.log_dir)
