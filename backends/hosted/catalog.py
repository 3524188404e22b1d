"""The hosted video models, one declarative entry each.

An entry says what the model can be asked for (durations, frame sizes and
aspect ratios, frame rate), what it can be conditioned on, whether it makes
sound or takes a seed, and, per provider route, the endpoint, the names its
request fields have there and the price per second with where and when that
price was read.  Adding a model is adding an entry; `backend.py` turns each
entry into a backend class, `providers.py` speaks to the provider.

Value types differ by model in the providers' own schemas (a duration is
"5" for Kling, "8s" for Veo 3.1, 5 for Runway): `Route.duration` formats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..base import Conditioning

Provider = Literal["fal", "runway"]
PROVIDERS: tuple[Provider, ...] = ("fal", "runway")
KEYS: dict[Provider, str] = {"fal": "FAL_KEY", "runway": "RUNWAYML_API_SECRET"}
READ = "2026-12-07"  # when the prices and schemas below were read


@dataclass(frozen=True)
class Size:
    """One frame size a model makes: the aspect and resolution it is asked for by,
    and the picture it is expected to return (results are conformed anyway)."""

    aspect: str  # "16:9"
    resolution: str  # "720p"; "" where the model has one only
    width: int
    height: int


@dataclass(frozen=True)
class Price:
    usd_per_second: dict[str, float]  # by Size.resolution ("" for any)
    source: str
    date: str = READ

    def per_second(self, resolution: str) -> float:
        return self.usd_per_second.get(resolution, self.usd_per_second.get("", 0.0))


@dataclass(frozen=True)
class Route:
    """How one provider serves a model: its endpoints and its request's field names.

    For fal the endpoints are app ids; for Runway the SDK resource
    (`text_to_video`, `image_to_video`) and `model` its model name.  A field set
    to None is one this route does not take."""

    provider: Provider
    text_endpoint: str | None
    image_endpoint: str | None
    price: Price
    model: str | None = None  # Runway's model name
    duration: Literal["str", "int", "seconds"] = "str"  # "5", 5 or "5s"
    image: str = "image_url"
    end_image: str | None = None  # the last frame's field
    aspect: str | None = "aspect_ratio"  # None: the start image decides
    aspect_on_image: bool = True  # the image endpoint takes the aspect too
    resolution: str | None = "resolution"
    audio: str | None = None  # e.g. "generate_audio"
    seed: str | None = None
    negative: str | None = None
    elements: bool = False  # Kling's character elements (front + 1-3 references)
    # Runway's `promptImage` as a list of {position, uri}: the first frame, and the
    # last where the model takes one (`end_image` names a field of its own instead).
    image_positions: bool = False
    takes: frozenset[Conditioning] | None = None  # narrower than the model's, by this route
    extra: dict = field(default_factory=dict)  # fixed fields sent with every request

    def format_duration(self, seconds: int) -> str | int:
        if self.duration == "int":
            return seconds
        if self.duration == "seconds":
            return f"{seconds}s"
        return str(seconds)


@dataclass(frozen=True)
class HostedModel:
    name: str  # what a script says: `backend: kling-3`
    title: str
    durations: tuple[int, ...]  # seconds the model can be asked for
    fps: float  # the rate its results come in (conformed to the film's)
    sizes: tuple[Size, ...]
    conditioning: frozenset[Conditioning]
    sound: bool  # makes the shot's sound with its picture
    routes: tuple[Route, ...]  # the first is the default
    template: str = "hosted.j2"
    max_references: int = 0  # reference images a request can carry
    min_image_side: int = 0  # images smaller than this are scaled up
    camera_control: bool = False  # structured camera moves (not only words in the prompt)
    notes: tuple[str, ...] = ()  # what it cannot do, for the docs and `director doctor`

    def route(self, provider: str) -> Route | None:
        return next((r for r in self.routes if r.provider == provider), None)

    def takes(self, provider: str) -> frozenset[Conditioning]:
        """What a request by `provider` can be conditioned on."""
        route = self.route(provider)
        return self.conditioning if route is None or route.takes is None else route.takes

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(r.provider for r in self.routes)


def _sizes(aspects: dict[str, tuple[int, int]], resolution: str = "") -> tuple[Size, ...]:
    return tuple(Size(a, resolution, w, h) for a, (w, h) in aspects.items())


def _nominal(aspects: tuple[str, ...], resolutions: tuple[str, ...]) -> tuple[Size, ...]:
    """Sizes a provider names by aspect and resolution only: the short side is the
    resolution's number (the result is conformed to the film whatever it is)."""
    sizes = []
    for resolution in resolutions:
        short = int(resolution.rstrip("pP"))
        for aspect in aspects:
            across, down = (int(n) for n in aspect.split(":"))
            long = 2 * round(short * max(across, down) / min(across, down) / 2)
            width, height = (long, short) if across >= down else (short, long)
            sizes.append(Size(aspect, resolution, width, height))
    return tuple(sizes)


_SEEDANCE_ASPECTS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
# Seedance's outputs by resolution and aspect (480p 16:9 comes back as 864x496), as
# runwayml 5.24.0's `seedance2` ratio enum lists them (Runway asks by these sizes).
_SEEDANCE_SIZES = {
    "480p": ((992, 432), (864, 496), (752, 560), (640, 640), (560, 752), (496, 864)),
    "720p": ((1470, 630), (1280, 720), (1112, 834), (960, 960), (834, 1112), (720, 1280)),
    "1080p": ((2206, 946), (1920, 1080), (1664, 1248), (1440, 1440), (1248, 1664), (1080, 1920)),
}
_FAL = "fal.ai model page"
_FAL_SCHEMA = "fal.ai llms.txt of the endpoint"
_RUNWAY_UNVERIFIED = "unverified: Runway's price for this model not read; fal's figure used"

SEEDANCE_2 = HostedModel(
    name="seedance-2",
    title="ByteDance Seedance 2.0",
    durations=tuple(range(4, 16)),
    fps=24.0,
    sizes=tuple(
        Size(aspect, resolution, w, h)
        for resolution, sizes in _SEEDANCE_SIZES.items()
        for aspect, (w, h) in zip(_SEEDANCE_ASPECTS, sizes, strict=True)
    ),
    conditioning=frozenset({"text", "first_frame", "last_frame"}),
    sound=True,
    routes=(
        Route(
            provider="fal",
            text_endpoint="bytedance/seedance-2.0/text-to-video",
            image_endpoint="bytedance/seedance-2.0/image-to-video",
            end_image="end_image_url",
            audio="generate_audio",
            # $0.014 per 1000 tokens, tokens = width x height x seconds x 24 / 1024
            price=Price(
                {"480p": 0.1406, "720p": 0.3024, "1080p": 0.6804},
                f"{_FAL} bytedance/seedance-2.0 ($0.014 per 1000 video tokens)",
            ),
        ),
        Route(
            provider="runway",
            text_endpoint="text_to_video",
            image_endpoint="image_to_video",
            model="seedance2",
            duration="int",
            image="prompt_image",
            image_positions=True,  # first and last frame in one list
            aspect="ratio",  # asked by the exact size: "864:496"
            resolution=None,
            audio="audio",
            seed="seed",
            price=Price({"480p": 0.1406, "720p": 0.3024, "1080p": 0.6804}, _RUNWAY_UNVERIFIED),
        ),
    ),
    notes=("no seed on fal (the same request may differ)", "reference images not taken"),
)

KLING_3 = HostedModel(
    name="kling-3",
    title="Kling 3.0 Pro",
    durations=tuple(range(3, 16)),
    fps=24.0,
    sizes=_sizes({"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1440, 1440)}, "1080p"),
    conditioning=frozenset({"text", "first_frame", "last_frame", "reference_images"}),
    sound=True,
    max_references=3,
    min_image_side=300,
    routes=(
        Route(
            provider="fal",
            text_endpoint="fal-ai/kling-video/v3/pro/text-to-video",
            image_endpoint="fal-ai/kling-video/v3/pro/image-to-video",
            image="start_image_url",
            end_image="end_image_url",
            aspect_on_image=False,  # the start image decides the aspect
            resolution=None,
            audio="generate_audio",
            negative="negative_prompt",
            elements=True,
            price=Price({"": 0.168}, f"{_FAL} fal-ai/kling-video/v3/pro ($0.168/s with audio)"),
        ),
        Route(
            provider="runway",
            text_endpoint="text_to_video",
            image_endpoint="image_to_video",
            model="kling3.0_pro",
            duration="int",
            image="prompt_image",
            image_positions=True,
            aspect="ratio",
            resolution=None,
            audio="audio",
            takes=frozenset({"text", "first_frame", "last_frame"}),  # no elements on Runway
            price=Price({"": 0.168}, _RUNWAY_UNVERIFIED),
        ),
    ),
    notes=(
        "no seed",
        "character references only with a first frame (image to video), and only via fal",
        "a character element needs a front image and 1-3 more",
        "no structured camera control: fal's Kling 3.0 schema has no camera field",
    ),
)

VEO_3_1 = HostedModel(
    name="veo-3.1",
    title="Google Veo 3.1",
    durations=(4, 6, 8),
    fps=24.0,
    sizes=_sizes({"16:9": (1280, 720), "9:16": (720, 1280)}, "720p")
    + _sizes({"16:9": (1920, 1080), "9:16": (1080, 1920)}, "1080p"),
    conditioning=frozenset({"text", "first_frame"}),
    sound=True,
    routes=(
        Route(
            provider="fal",
            text_endpoint="fal-ai/veo3.1",
            image_endpoint="fal-ai/veo3.1/image-to-video",
            duration="seconds",
            audio="generate_audio",
            seed="seed",
            negative="negative_prompt",
            price=Price({"": 0.40}, f"{_FAL} fal-ai/veo3.1 ($0.40/s with audio, 720p/1080p)"),
        ),
        Route(
            provider="runway",
            text_endpoint="text_to_video",
            image_endpoint="image_to_video",
            model="veo3.1",
            duration="int",
            image="prompt_image",
            aspect="ratio",
            resolution=None,
            audio="audio",
            seed="seed",
            negative="negative_prompt",
            price=Price({"": 0.40}, _RUNWAY_UNVERIFIED),
        ),
    ),
    notes=("last frame and reference images not taken on these endpoints",),
)

HAILUO_02 = HostedModel(
    name="hailuo-02",
    title="MiniMax Hailuo 02 Standard",
    durations=(6, 10),
    fps=24.0,
    sizes=(Size("16:9", "768P", 1366, 768),),
    conditioning=frozenset({"text", "first_frame", "last_frame"}),
    sound=False,
    routes=(
        Route(
            provider="fal",
            text_endpoint="fal-ai/minimax/hailuo-02/standard/text-to-video",
            image_endpoint="fal-ai/minimax/hailuo-02/standard/image-to-video",
            end_image="end_image_url",
            aspect=None,
            resolution=None,  # 768P is the only size both endpoints make
            extra={"prompt_optimizer": False},  # the prompt is the script's, unrewritten
            price=Price({"": 0.045}, f"{_FAL} fal-ai/minimax/hailuo-02/standard ($0.045/s)"),
        ),
    ),
    notes=("16:9 only", "no sound, no seed", "6 or 10 seconds"),
)

LTX_2_FAL = HostedModel(
    name="ltx-2-fal",
    title="Lightricks LTX-2 Pro (hosted on fal)",
    durations=(6, 8, 10),
    fps=25.0,
    sizes=_sizes({"16:9": (1920, 1080)}, "1080p") + _sizes({"16:9": (2560, 1440)}, "1440p"),
    conditioning=frozenset({"text", "first_frame"}),
    sound=True,
    routes=(
        Route(
            provider="fal",
            text_endpoint="fal-ai/ltx-2/text-to-video",
            image_endpoint="fal-ai/ltx-2/image-to-video",
            audio="generate_audio",
            extra={"fps": 25},
            price=Price({"1080p": 0.06, "1440p": 0.12}, f"{_FAL} fal-ai/ltx-2 ($0.06/s at 1080p)"),
        ),
    ),
    notes=("16:9 only", "no seed", "run it locally with `backend: ltx2` and your own GPU"),
)

GEN_4_5 = HostedModel(
    name="gen-4.5",
    title="Runway Gen-4.5",
    durations=tuple(range(2, 11)),
    fps=24.0,
    sizes=_sizes({"16:9": (1280, 720), "9:16": (720, 1280)}, "720p"),
    conditioning=frozenset({"text", "first_frame"}),
    sound=False,
    routes=(
        Route(
            provider="runway",
            text_endpoint="text_to_video",
            image_endpoint="image_to_video",
            model="gen4.5",
            duration="int",
            image="prompt_image",
            aspect="ratio",
            resolution=None,
            seed="seed",
            price=Price({"": 0.12}, "Runway API pricing (12 credits/s at $0.01 a credit)"),
        ),
    ),
    notes=("no sound", "last frame and reference images not taken"),
)

RAY_2_FLASH = HostedModel(
    name="ray-2-flash",
    title="Luma Ray 2 Flash",
    durations=(5, 9),
    fps=24.0,
    sizes=_nominal(("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"), ("540p", "720p", "1080p")),
    conditioning=frozenset({"text", "first_frame", "last_frame"}),
    sound=False,
    routes=(
        Route(
            provider="fal",
            text_endpoint="fal-ai/luma-dream-machine/ray-2-flash",
            image_endpoint="fal-ai/luma-dream-machine/ray-2-flash/image-to-video",
            duration="seconds",
            end_image="end_image_url",
            # $0.20 per 5 s at 540p, 720p twice that, 1080p four times (9 s: twice 5 s)
            price=Price(
                {"540p": 0.04, "720p": 0.08, "1080p": 0.16},
                f"{_FAL_SCHEMA} fal-ai/luma-dream-machine/ray-2-flash ($0.20 per 5 s at 540p)",
            ),
        ),
    ),
    notes=("no sound, no seed", "5 or 9 seconds", "reference images not taken"),
)

PIKA_2_2 = HostedModel(
    name="pika-2.2",
    title="Pika 2.2",
    durations=(5, 10),
    fps=24.0,
    sizes=_nominal(("16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3"), ("720p", "1080p")),
    conditioning=frozenset({"text", "first_frame"}),
    sound=False,
    routes=(
        Route(
            provider="fal",
            text_endpoint="fal-ai/pika/v2.2/text-to-video",
            image_endpoint="fal-ai/pika/v2.2/image-to-video",
            duration="int",
            aspect_on_image=False,  # the first frame decides the aspect
            seed="seed",
            negative="negative_prompt",
            price=Price(
                {"720p": 0.04, "1080p": 0.09},
                f"{_FAL_SCHEMA} fal-ai/pika/v2.2 ($0.20 per 5 s at 720p, $0.45 at 1080p)",
            ),
        ),
    ),
    notes=("no sound", "5 or 10 seconds", "last frame and reference images not taken"),
)

MODELS: tuple[HostedModel, ...] = (
    SEEDANCE_2, KLING_3, VEO_3_1, HAILUO_02, LTX_2_FAL, GEN_4_5, RAY_2_FLASH, PIKA_2_2,
)  # fmt: skip
