"""What kind of line a text is, asked directly: the rules the heuristic and validate share."""

from __future__ import annotations

import pytest

from extract.linekind import line_kind

FORMULAS = [
    r"$$L_{DLM} = -\mathbb{E}_{(x,\hat{y})\sim\mathcal{D}} \mathbb{E}_t\left[\log q_\phi(\hat{y}_i | x)\right]$$",
    r"$r_{i,t}(\theta) = \frac{\pi_\theta(\tau)}{\pi_{old}(\tau)}$",
    r"\[ J(\theta) = \mathbb{E}[R] \]",
    r"\begin{equation} y = Wx + b \end{equation}",
    "L = -E[log p(x)]",
    "p(y|x) ∝ exp(β r(x, y))",
    r"\frac{1}{G}\sum_{i=1}^G A_i",
    # Inline-heavy LaTeX: the spans outweigh the words around them.
    r"给定数据池 $D$ 中的查询 $(q, a)$，策略 $\pi_{\theta_{old}}$ 生成 $G$ 个轨迹 $\{\tau_i\}_{i=1}^G$。",
    r"where $\mathbf{Q} \in \mathbb{R}^{N \times D}$ and $K_j$",
]

CODE = [
    "import torch.nn as nn",
    "from tqdm import tqdm",
    "def forward(self, x, sink_strength=0.7):",
    "class SinkTransformer(nn.Module):",
    "attn_weights = F.softmax(attn_scores, dim=-1) # [B, H, L, L]",
    "q = self.q_proj(x).view(batch_size, seq_len, self.n_heads, self.head_dim)",
    "for layer_attn in attn_weights: # 遍历每一层",
    "if sink_strength > 0:",
    "total_heads = 0",
    "plt.title('Effect of Context Length on Sink Formation')",
    "return x, attn_weights.detach()",
    "const model = await loadModel(path);",
    "$ pip install flash-attn --no-build-isolation",
    "git clone https://github.com/example/repo.git",
    '"""实现带有注意力黑洞机制的Transformer层"""',
    "```python",
    # Comments: a note in a `//` comment is code however much it says.
    "//挑的是llama2-7b模型 这么小的模型做CP并行，不够典型",
    "// the fused kernel below is 2x faster than the naive loop",
    "/* 这里的实现比基线快 3 倍 */",
    "<!-- 图片来源:论文图 2,推理速度提升 40% -->",
]

TABLES = [
    "| Method | GSM8K | MATH |",
    "|---|:---:|---:|",
    "| GRPO | 73.5% | 41.2% |",
    "Fine-tune LLMs faster with less memory. |",
    "GRPO | 73.5 | 41.2 | RL",
    "GRPO\t73.5\t41.2",
]

URLS = [
    "https://arxiv.org/abs/2402.01035",
    "<https://example.com/paper>",
    "[Switch Transformers](https://arxiv.org/abs/2101.03961)",
    "![figure 1](https://example.com/fig1.png)",
    '<img width="780" height="345" alt="image" src="https://github.com/user-attachments/assets/e89b.png" />',
    "- 论文链接:https://arxiv.org/abs/2504.16074",
    "https://arxiv.org/abs/2510.20519 美团等 2025.11.25",
    "Code: https://github.com/MM-Thinking/Metis-HOME",
]

HEADINGS = [
    "# Results",
    "## Metis-HOME",
    "#PHYBench",
    "# 1. 实现带注意力黑洞的Transformer层",
    "**核心方法论**",
    "**Experimental setup**:",
    "LIMI: Less is More for Agency",
    "Predicting the Order of Upcoming Tokens Improves Language Modeling",
    "Metis-HOME: Hybrid Optimized Mixture-of-Experts for Multimodal Reasoning",
    "An Open Toolkit to Enable Web Agents on Large Language Models.",
    "Reading List",
    "实验结果",
    "前沿模型与人类专家的差距",
    "表达式树编辑距离(EED Score)",
    # Numbered sections, `Day N|` labels and figure or table captions.
    "1.2 多模态大模型推理加速困境",
    "2.1 预填充阶段",
    "3.1 Sparse routers improve throughput on long inputs",
    "第三章 稀疏路由如何加速推理",
    "二、稀疏路由实现推理加速的原理",
    "Day 1|SpecEE：基于推测的 Early Exiting 机制，让 AI PC 推理速度起飞",
    "专栏｜大模型推理加速的三条路线",
    "图 4:输出预测器的结构示意图",
    "图 2:图中使用 「通道熵」 定量比较不同方案的量化效果，越大表明越有效地利用了通道容量。",
    "表 1:与现有 benchmark 对比，PHYBench 在高难度数据集中有着相对大的规模。",
    "Figure 3: Sparse routing is 3x faster than dense routing at 128K tokens.",
    "Fig. 2. Loss curves of the three optimizers",
    "Table 1: accuracy of sparse and dense routers on long inputs",
    # A title in sentence case: a name, a colon and a subtitle with no verb of its own.
    "Per-example gradients: a new frontier for understanding and improving optimizers",
    "Sparse routing: towards cheaper inference for everyone",
]

PROSE = [
    # Findings with numbers, comparisons and cue words, English and Chinese.
    "LIMI achieves 73.5% on agency benchmarks, outperforming Kimi-K2-Instruct (24.1%).",
    "We show that sparse routing reduces training cost by 40% at equal quality.",
    "实验表明，该方法将推理延迟降低了 35%，显著优于基线。",
    "该方法在数学推理上提升了12%",
    "混合专家模型提升推理效率",
    "Scaling helps.",
    "BERT 2019 outperforms ELMo on GLUE.",
    # A short formula, a URL or a bit of code inside a sentence keeps it prose.
    "Loss scales as L = C^-0.05 with compute, per Kaplan et al.",
    "Results on arXiv:2402.01035 show that $x$ tokens suffice.",
    r"This results in an immediate 2$\times$ memory savings compared to KV caching.",
    "The released code at https://github.com/example/repo reproduces the 2x speed-up.",
    "Using torch.compile() speeds up training by 2x on A100s.",
    "Accuracy > 90% on GSM8K after distillation.",
    "研究发现，表示瓶颈(d ≪ |V|)下的交叉熵优化会产生两个几何阶段。",
    "MoE routing with top-2 experts improves perplexity by 3.1% (Shazeer2017Outrageous)",
    "Het model is een 560B passief ~27B actief MoE met een adaptief aantal actieve parameters.",
    "Accuracy = 90% on GSM8K, up from 71% with the base model.",
    "When the batch is small, speculative decoding doubles throughput; when it is large, it does not help.",
    # A finding with a colon, one that names a figure, a number or a bar: still sentences.
    "结果:准确率提升了12%。",
    "注意力黑洞现象: 研究者发现，很多注意力头会把超过 30% 的权重分配给第一个符号",
    "Results: sparse routing beats dense routing by 4 points",
    "Note: the model needs 2 GPUs for inference at 128K context.",
    "图 3 给出了 PPO、GRPO 和 DPO 的比较。",
    "Figure 3 shows that GRPO beats PPO by 4 points on GSM8K.",
    "1.5 倍的加速来自稀疏注意力，而非量化。",
    "Day 3 brought a 2x speed-up over day 1.",
    "p(y|x) is maximised when the router is calibrated.",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_formulas(text: str) -> None:
    assert line_kind(text) == "formula"


@pytest.mark.parametrize("text", CODE)
def test_code_lines(text: str) -> None:
    assert line_kind(text) == "code"


@pytest.mark.parametrize("text", TABLES)
def test_table_rows(text: str) -> None:
    assert line_kind(text) == "table"


@pytest.mark.parametrize("text", URLS)
def test_lines_that_are_mostly_a_link(text: str) -> None:
    assert line_kind(text) == "url"


@pytest.mark.parametrize("text", HEADINGS)
def test_headings(text: str) -> None:
    assert line_kind(text) == "heading"


@pytest.mark.parametrize("text", PROSE)
def test_sentences_stay_prose_whatever_they_contain(text: str) -> None:
    assert line_kind(text) == "prose"


def test_blank_text_is_prose_and_surrounding_space_does_not_count() -> None:
    assert line_kind("   ") == "prose"
    assert line_kind("    import torch\n") == "code"
    assert line_kind("  | a | b |  ") == "table"
