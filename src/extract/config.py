"""Pipeline configs: the TOML file users write, validated into `Pipeline`.

Paths in a pipeline file are resolved relative to that file. API keys never live
in a config: `model.api_key_env` names the environment variable that holds one.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from extract.errors import ConfigError
from extract.hashing import sha256_json

HEURISTIC = "heuristic"


class Domain(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list)


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str
    title: str = ""
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    documents: list[str] = Field(default_factory=list)


def _d(slug: str, description: str, keywords: str) -> Domain:
    return Domain(slug=slug, description=description, keywords=keywords.split("|"))


DEFAULT_DOMAINS: tuple[Domain, ...] = (
    _d(
        "data",
        "datasets, curation, filtering, synthetic data, data mixtures",
        "data|dataset|corpus|curat|filter|synthetic|mixture|数据|语料|合成|deduplicat",
    ),
    _d(
        "scaling",
        "scaling laws, compute-optimal training, emergent behaviour",
        "scaling law|scaling|compute-optimal|chinchilla|缩放|规模|扩展定律",
    ),
    _d(
        "training",
        "optimisation, pre-training and post-training recipes, RL, fine-tuning",
        "train|optimi|reinforcement|rlhf|rlvr|grpo|ppo|fine-tun|finetun|distill|learning rate|adam|"
        "训练|优化|强化学习|微调|蒸馏|梯度",
    ),
    _d(
        "arch",
        "model architecture: attention, MoE, state-space models, positional schemes",
        "architecture|attention|transformer|mixture-of-experts|moe|expert|mamba|state space|layer|架构|注意力|专家|层",
    ),
    _d(
        "inference",
        "decoding, serving, speculative decoding, test-time compute, KV cache",
        "inference|decoding|speculative|kv cache|kv-cache|serving|test-time|latency|throughput|推理|解码|投机|缓存",
    ),
    _d(
        "systems",
        "kernels, hardware, distributed training, communication, quantisation",
        "gpu|tpu|kernel|cuda|distributed|parallel|communication|nccl|quantiz|fp8|fp4|fp16|memory|"
        "系统|硬件|并行|通信|量化|显存",
    ),
    _d(
        "evaluation",
        "benchmarks, evaluation methodology, analysis of model behaviour",
        "benchmark|evaluat|eval|metric|leaderboard|accuracy|analysis|基准|评测|评估|分析",
    ),
    _d(
        "alignment",
        "alignment, safety, reward models, honesty, preference learning",
        "alignment|safety|reward model|preference|honest|harmless|jailbreak|dpo|对齐|安全|偏好|奖励模型",
    ),
    _d(
        "agents",
        "agents, tool use, planning, web and software agents",
        "agent|tool use|tool-use|planning|web|browse|swe|智能体|工具|代理",
    ),
    _d(
        "reasoning",
        "reasoning, chain-of-thought, math and code reasoning",
        "reasoning|chain-of-thought|cot|math|proof|think|推理能力|思维链|数学|思考",
    ),
    _d(
        "multimodal",
        "vision-language, speech, video and other modalities",
        "multimodal|vision|image|video|speech|audio|vlm|ocr|多模态|视觉|图像|视频|语音",
    ),
    _d("other", "anything that fits no other domain", ""),
)


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = HEURISTIC
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    # auto: find out once what the endpoint accepts (and remember it in the database);
    # or one of the modes, obeyed as set (see `providers.STRUCTURED_MODES`).
    response_format: Literal["auto", "json_schema", "json_object_schema", "json_object", "text"] = "auto"
    temperature: float = 0.0
    # What one chunk's claims need (8 claims of text, quote, tags and citations); a
    # rambling answer is cut off here and its chunk split, down to a floor.
    max_completion_tokens: int = Field(default=1536, gt=0)
    # Seconds for one call: a small local model on a laptop writes 1,536 tokens in
    # a minute or two, after reading the prompt.
    timeout: float = Field(default=300.0, gt=0)
    concurrency: int = Field(default=16, gt=0)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    max_retries: int = Field(default=4, ge=0)
    max_reasks: int = Field(default=2, ge=0)


class ChunkingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_tokens: int = Field(default=1500, ge=64)
    overlap_tokens: int = Field(default=150, ge=0)
    encoding: str | None = None

    @field_validator("overlap_tokens")
    @classmethod
    def _overlap_small(cls, value: int) -> int:
        if value > 1000:
            raise ValueError("overlap_tokens must be at most 1000")
        return value


class IngestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jsonl_text_field: str = "text"
    jsonl_title_field: str = "title"


class ExtractSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claim_language: str = "en"
    max_claims_per_chunk: int = Field(default=8, gt=0)


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    report_language: str = "en"
    max_positions: int = Field(default=4, gt=0)
    max_claims: int = Field(default=60, gt=0)
    spawn_after: int = Field(default=3, gt=0)


class MergeSettings(BaseModel):
    """How observations merge into claims beyond wording: a pair that scores just under
    the merge threshold ("borderline") is decided by an embedding similarity and/or by
    asking the model. Both answers are cached in the database."""

    model_config = ConfigDict(extra="forbid")
    # An embeddings model served at `base_url` (else the [model] endpoint), e.g.
    # "text-embedding-3-small", or a local server's model.
    embedder: str | None = None
    base_url: str | None = None
    embedding_threshold: float = Field(default=0.85, gt=0, le=1)
    # Ask the [model] whether a borderline pair states one claim.
    judge: bool = False
    borderline: float = Field(default=0.2, ge=0, le=1)
    max_asks: int = Field(default=2, ge=1)


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = 0.0
    output: float = 0.0
    cached_input: float = 0.0


class Pipeline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "pipeline"
    path: Path | None = None
    db: Path | None = None
    inputs: list[Path] = Field(default_factory=list)
    prompts: Path = Path("prompts")
    model: ModelSettings = Field(default_factory=ModelSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    domains: list[Domain] = Field(default_factory=lambda: list(DEFAULT_DOMAINS))
    topics: list[Topic] = Field(default_factory=list)
    prices: dict[str, Price] = Field(default_factory=dict)

    def config_hash(self) -> str:
        """Hash of everything that shapes results (not where the file lives)."""
        return sha256_json(self.model_dump(mode="json", exclude={"path", "db", "inputs"}))

    def domain_slugs(self) -> list[str]:
        return [d.slug for d in self.domains]

    def topic_slugs(self) -> list[str]:
        return [t.slug for t in self.topics]


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_pipeline(path: Path) -> Pipeline:
    """Read and validate a pipeline TOML; raise ConfigError with a one-line reason."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"pipeline file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read pipeline file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    return pipeline_from_dict(raw, base=path.parent, path=path)


def pipeline_from_dict(raw: dict[str, Any], *, base: Path, path: Path | None = None) -> Pipeline:
    data = dict(raw)
    head = data.pop("pipeline", {})
    if not isinstance(head, dict):
        raise ConfigError("[pipeline] must be a table")
    data.update(head)
    if "api_key" in data.get("model", {}):
        raise ConfigError("model.api_key is not allowed: put the key in the environment (model.api_key_env)")
    if "taxonomy" in data:
        taxonomy = data.pop("taxonomy")
        unknown = set(taxonomy) - {"domains"} if isinstance(taxonomy, dict) else {"(not a table)"}
        if unknown:
            raise ConfigError(
                f"{path or 'pipeline'}: taxonomy: unknown key(s) {', '.join(sorted(unknown))} (expected: domains)"
            )
        data["domains"] = taxonomy.get("domains", [])
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path or 'pipeline'}: {_one_line(exc)}") from exc
    pipeline.path = path
    pipeline.prompts = _resolve(base, pipeline.prompts)
    pipeline.inputs = [_resolve(base, p) for p in pipeline.inputs]
    if pipeline.db is not None:
        pipeline.db = _resolve(base, pipeline.db)
    if not pipeline.domains:
        raise ConfigError(f"{path or 'pipeline'}: the taxonomy needs at least one domain")
    return pipeline


def _resolve(base: Path, p: Path) -> Path:
    expanded = Path(os.path.expanduser(str(p)))
    return Path(os.path.normpath(expanded if expanded.is_absolute() else base / expanded))
