r"""Sentence embeddings from a BERT sentence-transformers folder, without the library.

Importing sentence-transformers (and, through it, transformers) takes about
8 s on two cores, longer than encoding the bundled catalogue. Folders with the
common layout (``modules.json``: Transformer, mean Pooling, optional Normalize;
a ``bert`` config; ``tokenizer.json`` and ``model.safetensors``), such as the
bundled all-MiniLM-L6-v2, are therefore run here with the ``tokenizers``
library and this small encoder; the output equals sentence-transformers' (the
tests compare the two). :func:`supports` says which folders qualify;
:mod:`recsys_core.text` sends every other folder to sentence-transformers.

BERT (Devlin et al., NAACL 2019), post-LayerNorm, for tokens :math:`x_t` at
positions :math:`t`:

.. math::
    h^{(0)}_t = \mathrm{LN}(E^{tok}_{x_t} + E^{pos}_t + E^{type}_0), \qquad
    a = \mathrm{LN}(h + \mathrm{MHA}(h)), \qquad
    h' = \mathrm{LN}(a + W_2\, \mathrm{gelu}(W_1 a)),

with padding masked out of attention; the sentence vector is the mean of the
last layer over real tokens, scaled to unit length when the folder normalises.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def supports(path: str | Path) -> bool:
    """Whether ``path`` is a BERT + mean pooling folder this module runs exactly."""
    path = Path(path)
    try:
        modules = [m["type"] for m in _json(path / "modules.json")]
        if modules not in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE]):
            return False
        pooling_dir = next(m["path"] for m in _json(path / "modules.json") if m["type"] == POOLING)
        pooling = _json(path / pooling_dir / "config.json")
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        config = _json(path / "config.json")
        return (modes == {"pooling_mode_mean_tokens"}
                and config.get("model_type") == "bert"
                and config.get("hidden_act", "gelu") == "gelu"
                and config.get("position_embedding_type", "absolute") == "absolute"
                and (path / "tokenizer.json").is_file()
                and (path / "model.safetensors").is_file())
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return False


class BertSentenceEncoder(torch.nn.Module):
    """A sentence-transformers BERT folder as a torch module: texts in, vectors out.

    ``encode`` takes the arguments :meth:`sentence_transformers.SentenceTransformer.encode`
    is called with in :mod:`recsys_core.text`.
    """

    def __init__(self, path: str | Path, device: str = "cpu"):
        super().__init__()
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        path = Path(path)
        config = _json(path / "config.json")
        settings = _json(path / "sentence_bert_config.json") \
            if (path / "sentence_bert_config.json").is_file() else {}
        self.heads = int(config["num_attention_heads"])  # attention heads per layer
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_length = int(settings.get("max_seq_length", config["max_position_embeddings"]))
        self.normalize = NORMALIZE in [m["type"] for m in _json(path / "modules.json")]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        weights = load_file(str(path / "model.safetensors"), device=device)
        # Some folders save the BertModel under a "bert." prefix.
        self.weights = {k.removeprefix("bert."): v.float() for k, v in weights.items()}
        self.dim = int(config["hidden_size"])
        self.eval()

    def get_embedding_dimension(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(layers={self.layers}, dim={self.dim}, heads={self.heads}, "
                f"max_length={self.max_length}, normalize={self.normalize})")

    def _layer_norm(self, x: Tensor, name: str) -> Tensor:
        w = self.weights
        return F.layer_norm(x, (self.dim,), w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

    def _linear(self, x: Tensor, name: str) -> Tensor:
        return F.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Token ids and attention mask [B, T] -> mean-pooled sentence vectors [B, dim]."""
        w = self.weights
        batch, length = ids.shape
        h = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])  # [B, T, dim]
        h = self._layer_norm(h, "embeddings.LayerNorm")
        keep = mask[:, None, None, :].bool()  # [B, 1, 1, T]: padding is never attended to
        head_dim = self.dim // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(x: Tensor) -> Tensor:  # [B, T, dim] -> [B, heads, T, head_dim]
                return x.view(batch, length, self.heads, head_dim).transpose(1, 2)

            q, k, v = (split(self._linear(h, f"{p}.attention.self.{n}"))
                       for n in ("query", "key", "value"))
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # [B, heads, T, hd]
            att = att.transpose(1, 2).reshape(batch, length, self.dim)
            a = self._layer_norm(h + self._linear(att, f"{p}.attention.output.dense"),
                                 f"{p}.attention.output.LayerNorm")
            ff = self._linear(F.gelu(self._linear(a, f"{p}.intermediate.dense")),
                              f"{p}.output.dense")
            h = self._layer_norm(a + ff, f"{p}.output.LayerNorm")  # [B, T, dim]
        m = mask.unsqueeze(-1).to(h.dtype)  # [B, T, 1]
        return (h * m).sum(1) / m.sum(1).clamp_min(1e-9)  # [B, dim]

    @torch.inference_mode()
    def encode(self, sentences: Sequence[str], batch_size: int = 32,
               convert_to_numpy: bool = True, normalize_embeddings: bool = False,
               show_progress_bar: bool = False) -> np.ndarray:
        """float32 [len(sentences), dim]; unit rows when the folder or the caller normalises."""
        out = []
        for start in range(0, len(sentences), batch_size):
            encoded = self.tokenizer.encode_batch(list(sentences[start:start + batch_size]))
            ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)  # [B, T]
            mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)  # [B, T]
            vectors = self(ids, mask)
            if self.normalize or normalize_embeddings:
                vectors = F.normalize(vectors, dim=1)
            out.append(vectors)
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return torch.cat(out).numpy().astype(np.float32, copy=False)
