"""The CTR model: a factorization machine in PyTorch over the impression's context, against a
logistic regression on the same one-hot features (the baseline).

Every row is a set of tokens (`slot=overlay`, `own_brand=yes`, `brand=fizzco`, ...). The
factorization machine adds, to the logistic model's weight per token, a learnt interaction
between every pair of tokens in the row (the dot product of their embeddings), so effects that
hold only together (an overlay while the ad's own brand is on screen) need no hand-made cross.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.auction.market import Opportunity, safety_band
from jobs.common.config import Campaign
from jobs.ctr.features import FIELDS, MAX_BRANDS, daypart

PAD, UNKNOWN = 0, 1
WIDTH = len(FIELDS) + MAX_BRANDS


def row_tokens(row: dict) -> list[str]:
    return [f"{f}={row[f]}" for f in FIELDS] + [f"brand={b}" for b in row["brands"]]


class Vocabulary:
    """Token -> index (0 pads, 1 stands for tokens never seen in training)."""

    def __init__(self, tokens: list[str]) -> None:
        self.index = {token: i + 2 for i, token in enumerate(sorted(set(tokens)))}

    def __len__(self) -> int:
        return len(self.index) + 2

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows (feature_rows columns) as an (n, WIDTH) index matrix."""
        out = np.full((len(rows), WIDTH), PAD, np.int64)
        for i, row in enumerate(rows[[*FIELDS, "brands"]].to_dict("records")):
            found = [self.index.get(t, UNKNOWN) for t in row_tokens(row)]
            out[i, : len(found)] = found
        return out

    @classmethod
    def of(cls, rows: pd.DataFrame) -> Vocabulary:
        return cls([t for row in rows[[*FIELDS, "brands"]].to_dict("records")
                    for t in row_tokens(row)])  # fmt: skip


def _factorization_machine(size: int, dim: int):
    import torch

    class FactorizationMachine(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(1))
            self.weights = torch.nn.Embedding(size, 1, padding_idx=PAD)
            self.factors = torch.nn.Embedding(size, dim, padding_idx=PAD)
            torch.nn.init.zeros_(self.weights.weight)
            torch.nn.init.normal_(self.factors.weight, std=0.01)
            with torch.no_grad():
                self.factors.weight[PAD].zero_()

        def forward(self, tokens):
            return self.linear(tokens) + self.pairwise(tokens)

        def linear(self, tokens):
            return self.bias + self.weights(tokens).sum(dim=(1, 2))

        def pairwise(self, tokens):
            v = self.factors(tokens)
            return 0.5 * (v.sum(dim=1) ** 2 - (v**2).sum(dim=1)).sum(dim=1)

    return FactorizationMachine()


@dataclass
class ClickModel:
    """A trained factorization machine with its vocabulary."""

    vocabulary: Vocabulary
    state: dict
    dim: int

    def network(self):
        net = _factorization_machine(len(self.vocabulary), self.dim)
        net.load_state_dict(self.state)
        return net.eval()

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return self.predict_tokens(self.vocabulary.encode(rows))

    def predict_tokens(self, tokens: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            logits = self.network()(torch.from_numpy(tokens))
        return torch.sigmoid(logits).numpy().astype(float)

    def save(self, path: Path) -> Path:
        import torch

        torch.save({"tokens": self.vocabulary.index, "state": self.state, "dim": self.dim}, path)
        return path

    @classmethod
    def load(cls, path: Path) -> ClickModel:
        import torch

        saved = torch.load(path, weights_only=False)
        vocabulary = Vocabulary([])
        vocabulary.index = saved["tokens"]
        return cls(vocabulary, saved["state"], saved["dim"])


def train_factorization_machine(
    rows: pd.DataFrame, labels: np.ndarray, dim: int, epochs: int, batch: int, lr: float,
    seed: int,
) -> ClickModel:  # fmt: skip
    """Fit by AdamW on log loss."""
    import torch

    torch.manual_seed(seed)
    vocabulary = Vocabulary.of(rows)
    tokens = torch.from_numpy(vocabulary.encode(rows))
    targets = torch.from_numpy(labels.astype(np.float32))
    net = _factorization_machine(len(vocabulary), dim)
    with torch.no_grad():
        rate = float(labels.mean()) if len(labels) else 0.01
        net.bias.fill_(math.log(max(rate, 1e-4) / max(1 - rate, 1e-4)))
    # Shrink the pairwise factors (rare pairs would fit noise), not the per-token weights.
    optimiser = torch.optim.AdamW(
        [{"params": [net.bias, net.weights.weight], "weight_decay": 0.0},
         {"params": [net.factors.weight], "weight_decay": 0.01}],
        lr=lr,
    )  # fmt: skip
    loss_of = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for chunk in torch.randperm(len(tokens), generator=generator).split(batch):
            optimiser.zero_grad()
            logits = net(tokens[chunk])
            loss = loss_of(logits, targets[chunk])
            loss.backward()
            optimiser.step()
    refine_weights(net, tokens, targets)
    return ClickModel(vocabulary, {k: v.detach().clone() for k, v in net.state_dict().items()},
                      dim)  # fmt: skip


def refine_weights(net, tokens, targets, steps: int = 50) -> None:
    """Finish the bias and the per-token weights on all training rows at once (L-BFGS, the
    pairwise factors fixed), with the baseline's L2 (sklearn's C = 1). Minibatch steps end
    near that optimum, not at it; at it, each token's predicted clicks equal its observed
    ones on the training rows (within the L2's pull), so the model is calibrated per slot type
    and device as far as its training clicks allow."""
    import torch

    linear = [net.bias, net.weights.weight]
    net.factors.weight.requires_grad_(False)
    optimiser = torch.optim.LBFGS(linear, lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")
    loss_of = torch.nn.BCEWithLogitsLoss(reduction="sum")
    with torch.no_grad():
        pairwise = net.pairwise(tokens)

    def closure():
        optimiser.zero_grad()
        loss = loss_of(net.linear(tokens) + pairwise, targets)
        loss = loss + 0.5 * net.weights.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    net.factors.weight.requires_grad_(True)


def train_logistic_baseline(rows: pd.DataFrame, labels: np.ndarray):
    """The baseline: logistic regression on the same tokens, one-hot; returns a predict
    function over feature rows."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    vocabulary = Vocabulary.of(rows)

    def one_hot(frame: pd.DataFrame):
        tokens = vocabulary.encode(frame)
        row_index = np.repeat(np.arange(len(tokens)), WIDTH)
        flat = tokens.ravel()
        keep = flat != PAD
        data = np.ones(int(keep.sum()))
        return csr_matrix((data, (row_index[keep], flat[keep])),
                          shape=(len(tokens), len(vocabulary)))  # fmt: skip

    model = LogisticRegression(C=1.0, max_iter=500).fit(one_hot(rows), labels)
    return lambda frame: model.predict_proba(one_hot(frame))[:, 1]


def metrics(
    predicted: np.ndarray,
    labels: np.ndarray,
    rows: pd.DataFrame,
    expected: np.ndarray | None = None,
) -> dict[str, float]:
    """AUC, log loss, normalised entropy (log loss over that of always predicting the base
    rate: under 1 means it learnt something) and calibration (predicted / observed clicks) by
    slot type and device; with `expected` (the true click probabilities, which the simulator
    knows) also predicted / expected clicks, free of the test clicks' own sampling noise."""
    from sklearn.metrics import log_loss, roc_auc_score

    p = np.clip(predicted, 1e-6, 1 - 1e-6)
    rate = float(labels.mean())
    base = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate)) if 0 < rate < 1 else 1.0
    loss = float(log_loss(labels, p, labels=[0, 1]))
    found = {
        "auc": float(roc_auc_score(labels, p)) if 0 < labels.sum() < len(labels) else 0.5,
        "log_loss": loss,
        "normalised_entropy": loss / base,
        "calibration": float(p.sum() / max(labels.sum(), 1)),
    }
    truth = np.full(len(p), np.nan) if expected is None else np.asarray(expected, float)
    for field in ("slot", "device"):
        frame = pd.DataFrame({"key": rows[field].to_numpy(), "p": p, "y": labels, "t": truth})
        for key, group in frame.groupby("key"):
            found[f"calibration_{field}_{key}"] = float(group["p"].sum() / max(group["y"].sum(), 1))
            if expected is not None:
                found[f"calibration_expected_{field}_{key}"] = float(
                    group["p"].sum() / group["t"].sum()
                )
    return found


class CtrModelPredictor:
    """The ad server's CTR for cpc bids from a registered model (`version`: its label)."""

    def __init__(self, model: ClickModel, version: str, bands: list[float]) -> None:
        self.model = model
        self.version = version
        self.bands = bands
        self.net = model.network()

    def predict(self, opportunity: Opportunity, campaign: Campaign) -> float:
        screen = opportunity.screen
        row = {
            "slot": opportunity.slot_type,
            "device": opportunity.device,
            "geo": opportunity.geo,
            "daypart": daypart(opportunity.hour),
            "stream": opportunity.stream_id,
            "scene": screen.scene or "unknown",
            "safety": safety_band(screen.safety, self.bands),
            "own_brand": "yes" if opportunity.own_brand_on_screen(campaign) else "no",
            "campaign": campaign.campaign_id,
        }
        return self._predict(tuple(row_tokens({**row, "brands": list(screen.brands)})))

    @lru_cache(maxsize=65536)  # noqa: B019 (one predictor per simulator, contexts repeat)
    def _predict(self, tokens: tuple[str, ...]) -> float:
        import torch

        index = [self.model.vocabulary.index.get(t, UNKNOWN) for t in tokens][:WIDTH]
        padded = torch.tensor([index + [PAD] * (WIDTH - len(index))])
        with torch.no_grad():
            return float(torch.sigmoid(self.net(padded))[0])
