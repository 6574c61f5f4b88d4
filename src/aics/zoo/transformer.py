"""Transformer encoders: ViT (Dosovitskiy et al., ICLR 2021, Table 1) and a BERT-base-sized encoder
(Devlin et al., NAACL 2019), sharing one encoder block.

Attention is written as explicit ops (qkv Linear, reshape/permute, q @ k^T * scale, softmax, @ v,
transpose/reshape, proj Linear), not nn.MultiheadAttention, so the importer sees every matmul; the
weights are the same as MHA's in_proj/out_proj.
* ``vit_b_16``: torchvision-compatible ViT-B/16: 16x16/16 conv patch embedding, class token, learned
  position embedding, 12 pre-norm blocks (LayerNorm eps 1e-6, GELU MLP 3072), final LayerNorm, head on the
  class token. 86,567,656 params, 17,563,828,224 MACs (715,327,488 of them attention matmuls).
* ``vit_tiny``: the same model at patch 4 on 32x32 (CIFAR-10), dim 192, depth 6, 3 heads, MLP 768.
* ``bert_base``: 12 post-norm layers, hidden 768, 12 heads, FFN 3072, GELU, LayerNorm eps 1e-12; word
  (30522, an nn.Embedding lookup), position (512) and token-type (2) embeddings summed and normalised.
  The position and token-type tables are plain Parameters (like ViT's position embedding): positions
  0..n-1 are the table's first n rows and every token is of type 0 (one segment), which is what Hugging
  Face's BertEmbeddings does with its default ids (its sliced id buffers do not fx-trace). Output: the
  pooled [CLS] vector (dense + tanh). 109,482,240 params, HF ``BertModel``'s count. No attention mask.
"""

from __future__ import annotations

import torch
from torch import nn

from aics.zoo.registry import ZooEntry


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (b, heads, n, head_dim) each
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class EncoderBlock(nn.Module):
    """Pre-norm (ViT): x + f(LN(x)). Post-norm (BERT): LN(x + f(x))."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, pre_norm: bool, eps: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.ln1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.drop1 = nn.Dropout(dropout)
        self.ln2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim))
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.drop1(self.attn(self.ln1(x)))
            return x + self.drop2(self.mlp(self.ln2(x)))
        x = self.ln1(x + self.drop1(self.attn(x)))
        return self.ln2(x + self.drop2(self.mlp(x)))


class ViT(nn.Module):
    def __init__(self, image_size: int = 224, patch: int = 16, dim: int = 768, depth: int = 12, heads: int = 12,
                 mlp_dim: int = 3072, num_classes: int = 1000, dropout: float = 0.0) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, (image_size // patch) ** 2 + 1, dim))
        nn.init.normal_(self.pos_embedding, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp_dim, True, 1e-6, dropout) for _ in range(depth)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (b, patches, dim)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embedding
        x = self.ln(self.blocks(self.dropout(x)))
        return self.head(x[:, 0])


class BertEncoder(nn.Module):
    def __init__(self, vocab: int = 30522, max_positions: int = 512, type_vocab: int = 2, dim: int = 768,
                 depth: int = 12, heads: int = 12, mlp_dim: int = 3072, dropout: float = 0.1) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)
        self.position_embeddings = nn.Parameter(torch.empty(max_positions, dim))
        self.token_type_embeddings = nn.Parameter(torch.empty(type_vocab, dim))
        nn.init.normal_(self.position_embeddings, std=0.02)
        nn.init.normal_(self.token_type_embeddings, std=0.02)
        self.ln = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp_dim, False, 1e-12, dropout) for _ in range(depth)))
        self.pooler = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())
        for m in self.modules():  # BERT init: N(0, 0.02) weights, zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.word_embeddings(ids) + self.position_embeddings[: ids.shape[1]] + self.token_type_embeddings[0]
        x = self.blocks(self.dropout(self.ln(x)))
        return self.pooler(x[:, 0])


ENTRIES = [
    ZooEntry("vit_b_16", ViT, (1, 3, 224, 224), "ViT-B/16 (Dosovitskiy et al. 2021), torchvision-compatible; input 1x3x224x224"),
    ZooEntry("vit_tiny", ViT, (1, 3, 32, 32), "tiny ViT (Dosovitskiy et al. 2021): patch 4, dim 192, depth 6, 3 heads; input 1x3x32x32",
             {"image_size": 32, "patch": 4, "dim": 192, "depth": 6, "heads": 3, "mlp_dim": 768, "num_classes": 10}),
    ZooEntry("bert_base", BertEncoder, (1, 128), "BERT-base-sized encoder (Devlin et al. 2019); input 1x128 int64 token ids",
             input_dtype="int64", input_range=(0, 30522)),
]
