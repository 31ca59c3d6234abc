"""`get_demo_clip`: show a product video that fits what the visitor asked about."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from widget_api.tools.base import RunContext, ToolError
from widget_api.vocabulary import ToolName

NAME: ToolName = "get_demo_clip"
DESCRIPTION = (
    "Find the demo video that best fits a topic (a feature, integration or workflow) so it can"
    " be shown on the visitor's screen. Call it when the visitor would understand faster by"
    " seeing it. Says plainly when no clip fits."
)


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: str = Field(
        min_length=2,
        max_length=200,
        description="What the visitor wants to see, e.g. 'Salesforce integration'.",
    )


class Clip(BaseModel):
    id: str
    title: str
    description: str
    video_url: str
    thumbnail_url: str | None
    duration_seconds: int


class Result(BaseModel):
    found: bool
    clip: Clip
    score: float


def run(args: Args, ctx: RunContext) -> Result:
    """The clip closest in meaning to the topic; below the company's threshold → no_clip_found."""
    best = ctx.deps.clips.best(ctx.company, args.topic)
    if best is None or best[1] < ctx.company.clip_match_threshold:
        raise ToolError("no_clip_found")
    clip, score = best
    return Result(
        found=True,
        clip=Clip(
            id=clip.id,
            title=clip.title,
            description=clip.description,
            video_url=str(clip.video_url),
            thumbnail_url=str(clip.thumbnail_url) if clip.thumbnail_url else None,
            duration_seconds=clip.duration_seconds,
        ),
        score=round(score, 4),
    )
