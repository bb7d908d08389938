"""The public code the course follows: the listings of the article it is built on.

Sebastian Raschka, "Understanding and Coding Self-Attention, Multi-Head Attention,
Causal-Attention, and Cross-Attention in LLMs" (2024). Learners may follow these listings; code
that matches them is shown per submission ("follows the article") by the similarity report
(`autograder.grading.similarity`), never as similarity between two learners. The listings are
kept as the article prints them, its sentence and sizes included, so that its idioms
(``queries @ keys.T``, ``torch.softmax(attn_scores / d_k**0.5, dim=-1)``, ``torch.cat`` over
heads, ``masked_fill`` with ``-torch.inf``) are recognised whatever the learner named things.
"""

ARTICLE_LISTINGS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

sentence = 'Life is short, eat dessert first'
dc = {s: i for i, s in enumerate(sorted(sentence.replace(',', '').split()))}
sentence_int = torch.tensor([dc[s] for s in sentence.replace(',', '').split()])

vocab_size = 50_000
torch.manual_seed(123)
embed = torch.nn.Embedding(vocab_size, 3)
embedded_sentence = embed(sentence_int).detach()

torch.manual_seed(123)
d = embedded_sentence.shape[1]
d_q, d_k, d_v = 2, 2, 4
W_query = torch.nn.Parameter(torch.rand(d, d_q))
W_key = torch.nn.Parameter(torch.rand(d, d_k))
W_value = torch.nn.Parameter(torch.rand(d, d_v))

x_2 = embedded_sentence[1]
query_2 = x_2 @ W_query
key_2 = x_2 @ W_key
value_2 = x_2 @ W_value

keys = embedded_sentence @ W_key
values = embedded_sentence @ W_value

omega_24 = query_2.dot(keys[4])
omega_2 = query_2 @ keys.T

attention_weights_2 = F.softmax(omega_2 / d_k**0.5, dim=0)
context_vector_2 = attention_weights_2 @ values


class SelfAttention(nn.Module):

    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_out_kq = d_out_kq
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))

    def forward(self, x):
        keys = x @ self.W_key
        queries = x @ self.W_query
        values = x @ self.W_value

        attn_scores = queries @ keys.T  # unnormalized attention weights
        attn_weights = torch.softmax(
            attn_scores / self.d_out_kq**0.5, dim=-1
        )

        context_vec = attn_weights @ values
        return context_vec


class MultiHeadAttentionWrapper(nn.Module):

    def __init__(self, d_in, d_out_kq, d_out_v, num_heads):
        super().__init__()
        self.heads = nn.ModuleList(
            [SelfAttention(d_in, d_out_kq, d_out_v)
             for _ in range(num_heads)]
        )

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)


class CrossAttention(nn.Module):

    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_out_kq = d_out_kq
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))

    def forward(self, x_1, x_2):
        queries_1 = x_1 @ self.W_query

        keys_2 = x_2 @ self.W_key
        values_2 = x_2 @ self.W_value

        attn_scores = queries_1 @ keys_2.T
        attn_weights = torch.softmax(
            attn_scores / self.d_out_kq**0.5, dim=-1)

        context_vec = attn_weights @ values_2
        return context_vec


queries = embedded_sentence @ W_query
keys = embedded_sentence @ W_key
attn_scores = queries @ keys.T
attn_weights = torch.softmax(attn_scores / d_k**0.5, dim=1)

block_size = attn_scores.shape[0]
mask_simple = torch.tril(torch.ones(block_size, block_size))
masked_simple = attn_weights*mask_simple
row_sums = masked_simple.sum(dim=1, keepdim=True)
masked_simple_norm = masked_simple / row_sums

mask = torch.triu(torch.ones(block_size, block_size), diagonal=1)
masked = attn_scores.masked_fill(mask.bool(), -torch.inf)
attn_weights = torch.softmax(masked / d_k**0.5, dim=1)
'''
