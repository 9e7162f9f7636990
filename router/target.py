"""Where one request goes, resolved once: the model, its encoder family, whether it takes images, the
density, the wire format and the limits. Every stage reads this instead of looking the model up again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from router.density_names import DensityName
from router.policy import Policy
from router.providers.geometry import EncoderProfile, get_profile

__all__ = ["Target", "Wire", "resolve_target", "unknown_model"]

Wire = Literal["openai", "anthropic"]


class Target(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str = Field(description="the model as litellm names it; also the tokenizer the text is counted with")
    profile: EncoderProfile
    vision: bool = Field(description="the backend accepts images")
    density: DensityName = Field(description="the density for chunks whose rule names none")
    density_forced: bool = Field(False, description="the request asked for this density: it beats the rules'")
    wire: Wire = "openai"
    max_images: int = Field(gt=0, description="images per request: the provider's limit, or the policy's below it")
    pages: str | None = Field(None, description='page range read from attached documents, e.g. "1-5,9"')
    checkpoint: str | None = Field(None, description="the local encoder's checkpoint: pages go as its embeddings")


def resolve_target(
    policy: Policy,
    model: str,
    *,
    wire: Wire = "openai",
    encoder: str | None = None,
    density: DensityName | None = None,
    pages: str | None = None,
) -> Target:
    """The target of a request for ``model`` under ``policy``; ``encoder``, ``density`` and ``pages``
    are the request's own overrides."""
    override = policy.override_for(model)
    local = override is not None and override.checkpoint is not None and not encoder
    profile = get_profile(encoder) if encoder else policy.encoder_for(model)
    if density is not None:
        from router.render.density import get_density

        get_density(density)  # a clear error naming the known densities
    default = (override.density if override and override.density else None) or policy.density
    return Target(
        model=model,
        profile=profile,
        vision=policy.vision_for(model),
        density=density or default,
        density_forced=density is not None,
        wire=wire,
        max_images=min(profile.max_images, policy.max_images or profile.max_images),
        pages=pages or policy.pages,
        checkpoint=override.checkpoint if local and override else None,
    )


def unknown_model(policy: Policy, model: str) -> str | None:
    """Why ``model`` is a name nothing knows (with the nearest known names), or None when litellm's
    model map, a provider prefix litellm serves, or the policy's ``models:`` facts place it."""
    import difflib

    from router._litellm import litellm

    if policy.override_for(model) is not None or model in litellm.model_cost:
        return None
    providers = {str(getattr(p, "value", p)) for p in litellm.provider_list}
    if "/" in model and model.split("/", 1)[0].lower() in providers:
        return None  # a provider's own deployment name (hosted_vllm/..., openai/my-model)
    nearest = difflib.get_close_matches(model, list(litellm.model_cost), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(nearest)}?" if nearest else ""
    return (
        f"unknown model {model!r}: not in litellm's model map, and no policy 'models:' entry says what it is"
        f"{hint} (for a self-hosted model, give its encoder: --encoder, or a policy 'models:' entry)"
    )
