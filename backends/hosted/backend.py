"""The hosted backends: one class per catalog entry over a shared base.

The planner sees a capability table like any backend's, with two additions
(`HostedCapabilities`): a shot's frames are rounded up to one of the model's
durations, and the frame size is the model's nearest aspect and resolution.
At run time `generate` builds the provider's request from the shot, submits
it once (the journal remembers the request id before the first poll), polls
it, downloads the result once, and conforms the video to what the request
asked for: its rate and frame count, with the model's sound trimmed or padded
to the same length.  `select` then scales and crops it to the film's format.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from ..base import Backend, BackendError, Capabilities, GeneratedShot, ShotRequest
from .catalog import KEYS, HostedModel, Route, Size
from .journal import Journal, Record, request_key
from .providers import PROVIDER_CLASSES, Busy, Expired, Provider, key_for, scrub

DATA_URI_LIMIT = 5 * 1024 * 1024  # Runway's limit for an image data URI; fal's is larger
REFERENCE_SIDE = 1024  # reference images are sent at most this large
SUBMIT_ATTEMPTS = 8  # 429s in a row before a submission is given up
POLL_BACKOFF = (1.0, 30.0)  # first and longest wait after a failed poll, in seconds


class HostedError(Exception):
    """A hosted request failed; the message says why, in the user's terms."""


class HostedCapabilities(Capabilities):
    """Capabilities of a hosted model: whole-second durations and a set of sizes."""

    durations: tuple[int, ...] = ()
    sizes: tuple[tuple[str, str, int, int], ...] = ()  # (aspect, resolution, width, height)

    def frames_for(self, wanted: int) -> int:
        """The frames of the shortest allowed duration that covers `wanted` frames."""
        rate = self.frame_rates[0]
        for seconds in self.durations:
            if round(seconds * rate) >= wanted:
                return round(seconds * rate)
        return round(self.durations[-1] * rate)

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        return self.nearest(width, height)[2:]

    def nearest(self, width: int, height: int) -> tuple[str, str, int, int]:
        """The size with the aspect closest to the film's; among those, the smallest
        at least as tall as the film, else the largest."""

        def distance(size) -> float:  # by the aspect's name: 864x496 is a 16:9 size
            across, down = (int(n) for n in size[0].split(":"))
            return abs(math.log(across / down) - math.log(width / height))

        best = min(map(distance, self.sizes))
        same = [s for s in self.sizes if distance(s) <= best + 1e-9]
        tall = [s for s in same if min(s[2], s[3]) >= min(width, height)]
        if tall:
            return min(tall, key=lambda s: s[2] * s[3])
        return max(same, key=lambda s: s[2] * s[3])


@dataclass
class Job:
    """One request as it goes to the provider.  A picture too large for a data URI
    stands in `body` as a mark naming its content (`Pictures`), so that the request's
    identity (the journal's key) is the same on every run; it is uploaded, and the
    mark replaced by the upload's URI, only when the request is submitted."""

    provider: str
    endpoint: str
    body: dict
    size: Size
    seconds: int
    uploads: dict[str, bytes] = field(default_factory=dict)  # mark → PNG file


class HostedBackend(Backend):
    """Base of the hosted models.  A subclass sets `model` (a catalog entry)."""

    model: ClassVar[HostedModel]
    remote: ClassVar[bool] = True  # many requests may be in flight at once (--jobs)
    auto_rank = -100  # `backend: auto` never picks a model that costs money
    black_is_failure = False  # never pay for a second render on our own initiative
    plan_settings: ClassVar[tuple[str, ...]] = ("via",)
    runtime_settings: ClassVar[tuple[str, ...]] = ("journal", "poll_interval", "price_per_second")
    _stop = threading.Event()  # set on Ctrl-C: polling threads stop waiting

    def __init__(self, *, via: str | None = None, journal: str | None = None,
                 poll_interval: float = 5.0, price_per_second: float | None = None):  # fmt: skip
        self.via = via or self.model.providers[0]
        if self.model.route(self.via) is None:
            raise HostedError(f"{self.name} is not served by {self.via}")
        self.journal = Journal(Path(journal)) if journal else None
        self.poll_interval = float(poll_interval)
        self._provider: Provider | None = None
        HostedBackend._stop.clear()  # a new compile (in this process) waits again

    # -- what the planner asks
    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not any(key_for(provider) for provider in cls.model.providers):
            keys = " or ".join(KEYS[p] for p in cls.model.providers)  # names, never values
            return f"no key for {cls.name}: set {keys}"
        return None

    @classmethod
    def left_out(cls, wanted: set[str], options: dict | None = None) -> set[str]:
        """What of `wanted` this model cannot take, by the provider in `options`
        (`via`; else its first), for a shot that asks for all of it."""
        via = (options or {}).get("via") or cls.model.providers[0]
        route = cls.model.route(via) or cls.model.routes[0]
        left = wanted - cls.model.takes(route.provider)
        if "first_frame" not in wanted:
            if route.elements:  # Kling's elements go with a first frame
                left |= wanted & {"reference_images"}
            if route.image_positions:  # Runway's models take no last frame alone
                left |= wanted & {"last_frame"}
        return left

    @classmethod
    def price_per_second(cls, via: str, resolution: str) -> tuple[float, str]:
        """USD a second of a request by `via` at `resolution`, and where the price is from."""
        route = cls.model.route(via) or cls.model.routes[0]
        price = route.price
        return price.per_second(resolution), f"{price.source}, {price.date}"

    @classmethod
    def billed_seconds(cls, frames: int, fps: float) -> int:
        """The duration a request of `frames` frames is asked (and paid) for."""
        return next((s for s in cls.model.durations if round(s * fps) >= frames),
                    cls.model.durations[-1])  # fmt: skip

    @classmethod
    def request_terms(cls, frames: int, size: tuple[int, int]) -> dict:
        """The request's own terms for a window of `frames` frames at `size`, for
        the plan: the seconds asked (and paid) for, the aspect and resolution."""
        found = next(s for s in cls.model.sizes if (s.width, s.height) == size)
        return {
            "seconds": cls.billed_seconds(frames, cls.model.fps),
            "aspect": found.aspect,
            "resolution": found.resolution,
        }

    # -- what the runtime asks
    def interrupt(self) -> None:
        HostedBackend._stop.set()

    def provider(self) -> Provider:
        if self._provider is None:
            key = key_for(self.via)
            if key is None:
                raise HostedError(f"no key for {self.via}: set {KEYS[self.via]} in the environment")
            self._provider = PROVIDER_CLASSES[self.via](key)
        return self._provider

    def generate(self, request: ShotRequest) -> GeneratedShot:
        return conform(self.fetch(request), request, with_sound=self.model.sound)

    def fetch(self, request: ShotRequest) -> Path:
        """The provider's video for `request`: submitted once, waited for and
        downloaded once into the journal.  Called again with the same request, it
        is the kept file, at once: the executor fetches ahead of `generate`, so
        that a request's slot is free again before its result is conformed."""
        if self.journal is None:
            raise HostedError("hosted backends run only inside `director compile` (no journal)")
        try:
            return self._video(self.job(request), request.shot_id)
        except HostedError as error:  # said like any node's failure, at the shot's line
            raise BackendError(str(error)) from None

    def job(self, request: ShotRequest) -> Job:
        """The provider's request for a ShotRequest, every value one the model allows."""
        route = self.model.route(self.via)
        wanted = (request.width, request.height)
        size = next(s for s in self.model.sizes if (s.width, s.height) == wanted)
        seconds = self.billed_seconds(request.frames, request.fps)
        first = _first_image(request)
        pictures = Pictures(self.model.min_image_side, PROVIDER_CLASSES[self.via].uploads)
        body = build_body(self.model, route, request, size, seconds, first, pictures)
        endpoint = route.image_endpoint if first is not None else route.text_endpoint
        if endpoint is None:
            raise HostedError(f"{self.name} on {self.via} needs a first frame")
        return Job(self.via, endpoint, body, size, seconds, pictures.held)

    # -- submit once, poll, download once
    def _video(self, job: Job, shot: str) -> Path:
        key = request_key(job.provider, job.endpoint, job.body)
        record = self.journal.get(key)
        if record is None:
            request_id = self._submit(job)
            record = Record(key, job.provider, job.endpoint, request_id, time.time(), shot)
            self.journal.put(record)  # before the first poll: a rerun polls, never resubmits
        kept = self.journal.result(record)
        if kept is not None:
            return kept
        return self._wait_and_download(record)

    def _submit(self, job: Job) -> str:
        wait = POLL_BACKOFF[0]
        for _ in range(SUBMIT_ATTEMPTS):
            try:
                return self.provider().submit(job.endpoint, self._uploaded(job))
            except Busy as busy:
                self._sleep(busy.retry_after if busy.retry_after is not None else wait)
                wait = min(wait * 2, POLL_BACKOFF[1])
            except Exception as error:
                raise HostedError(_refusal(self.name, error, accepted=False)) from None
        raise HostedError(f"{self.via} stayed busy through {SUBMIT_ATTEMPTS} submissions; "
                          "nothing was accepted, so running again is safe")  # fmt: skip

    def _uploaded(self, job: Job) -> dict:
        """The body to submit: each held picture uploaded (the provider's upload
        call) and its mark replaced by the upload's URI."""
        if not job.uploads:
            return job.body
        uris = {mark: self.provider().upload(mark.removeprefix(UPLOAD_MARK), data)
                for mark, data in job.uploads.items()}  # fmt: skip
        return _replaced(job.body, uris)

    def _wait_and_download(self, record: Record) -> Path:
        wait = POLL_BACKOFF[0]
        fresh = True
        while True:
            try:
                poll = self.provider().poll(record.endpoint, record.request_id)
            except Busy as busy:
                self._sleep(busy.retry_after if busy.retry_after is not None else wait)
                wait = min(wait * 2, POLL_BACKOFF[1])
                continue
            except Exception as error:
                raise HostedError(_refusal(self.name, error, accepted=True)) from None
            wait = POLL_BACKOFF[0]
            if poll.state == "failed":
                record.failure = f"{poll.code}: {poll.failure}" if poll.code else poll.failure
                self.journal.put(record)
                raise HostedError(_failed(self.name, record))
            if poll.state != "done":
                self._sleep(self.poll_interval)
                continue
            try:
                return self._download(record, poll.urls)
            except Expired:
                if not fresh:  # a second expired link from fresh ones: give up
                    raise HostedError(f"{self.name}: the result's links expired and fresh "
                                      "ones did not answer either") from None  # fmt: skip
                fresh = False  # poll again: the provider hands out fresh links

    def _download(self, record: Record, urls: list[str]) -> Path:
        if not urls:
            raise HostedError(f"{self.name}: the provider said done but gave no video")
        scratch = self.journal.scratch()
        wait = POLL_BACKOFF[0]
        try:
            for _ in range(SUBMIT_ATTEMPTS):
                try:
                    self.provider().download(urls[0], scratch)
                    return self.journal.keep_result(record, scratch)
                except Busy as busy:
                    self._sleep(busy.retry_after if busy.retry_after is not None else wait)
                    wait = min(wait * 2, POLL_BACKOFF[1])
            raise HostedError(f"{self.name}: the result could not be downloaded; run again")
        finally:
            scratch.unlink(missing_ok=True)

    def _sleep(self, seconds: float) -> None:
        if HostedBackend._stop.wait(seconds):
            raise KeyboardInterrupt


# ------------------------------------------------------------------- request


def build_body(model: HostedModel, route: Route, request: ShotRequest, size: Size,
               seconds: int, first: Image.Image | None, pictures: Pictures) -> dict:  # fmt: skip
    """The request body in the route's own field names and value types."""
    prompt = "prompt_text" if route.provider == "runway" else "prompt"
    body: dict = {prompt: request.prompt, **route.extra}
    if route.model:
        body["model"] = route.model
    body["duration"] = route.format_duration(seconds)
    if route.aspect and (first is None or route.aspect_on_image):
        ratio = f"{size.width}:{size.height}" if route.provider == "runway" else size.aspect
        body[route.aspect] = ratio
    if route.resolution and size.resolution:
        body[route.resolution] = size.resolution
    if route.audio:
        body[route.audio] = model.sound
    if route.seed:
        body[route.seed] = request.seed
    if route.negative and request.negative:
        body[route.negative] = request.negative
    if first is not None and route.image_positions:
        body[route.image] = _positioned(request, size, first, pictures)
    elif first is not None:
        body[route.image] = pictures.uri(_cover(first, size))
    if route.end_image and request.keyframe_last is not None:
        body[route.end_image] = pictures.uri(_last_image(request, size))
    if route.elements and first is not None and request.characters:
        body["elements"] = _elements(request, model, pictures)
    return body


def _positioned(request: ShotRequest, size: Size, first: Image.Image,
                pictures: Pictures) -> list[dict]:  # fmt: skip
    """Runway's `promptImage` list: the first frame, and the last when there is one."""
    images = [{"position": "first", "uri": pictures.uri(_cover(first, size))}]
    if request.keyframe_last is not None:
        images.append({"position": "last", "uri": pictures.uri(_last_image(request, size))})
    return images


def _last_image(request: ShotRequest, size: Size) -> Image.Image:
    assert request.keyframe_last is not None
    return _cover(Image.open(request.keyframe_last).convert("RGB"), size)


def _first_image(request: ShotRequest) -> Image.Image | None:
    """The frame the shot starts from: its pinned keyframe, else the one it continues."""
    if request.keyframe_first is not None:
        return Image.open(request.keyframe_first).convert("RGB")
    if request.previous_frame is not None:
        return Image.fromarray(np.asarray(request.previous_frame, dtype=np.uint8))
    return None


def _elements(request: ShotRequest, model: HostedModel, pictures: Pictures) -> list[dict]:
    """Kling's character elements: a front image and 1-3 more of each character.
    A character with one picture gives it as both (an element needs a reference)."""
    elements = []
    for character in request.characters:
        images = [p for p in character.refs if p.suffix.lower() in (".png", ".jpg", ".jpeg",
                                                                      ".webp")]  # fmt: skip
        if not images:
            continue
        uris = [pictures.uri(_fit(Image.open(p).convert("RGB")))
                for p in images[: model.max_references + 1]]  # fmt: skip
        references = uris[1:] or uris[:1]
        elements.append({"frontal_image_url": uris[0], "reference_image_urls": references})
    return elements


def _cover(image: Image.Image, size: Size) -> Image.Image:
    """Scaled to cover the request's size and centre-cropped to it."""
    scale = max(size.width / image.width, size.height / image.height)
    resized = image.resize((round(image.width * scale), round(image.height * scale)))
    left, top = (resized.width - size.width) // 2, (resized.height - size.height) // 2
    return resized.crop((left, top, left + size.width, top + size.height))


def _fit(image: Image.Image) -> Image.Image:
    scale = min(1.0, REFERENCE_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return image


UPLOAD_MARK = "upload:"  # a held picture's mark in a body: "upload:<sha256>.png"


@dataclass
class Pictures:
    """How a request's pictures are sent: a PNG data URI up to the provider's limit;
    above it, where the provider has an upload call, the PNG itself, held under a
    mark of its content until submission (`Job.uploads`), else a JPEG data URI."""

    min_side: int  # smaller pictures are scaled up to this (Kling: 300 px)
    uploads: bool  # the provider has an upload call
    held: dict[str, bytes] = field(default_factory=dict)

    def uri(self, image: Image.Image) -> str:
        if self.min_side and min(image.size) < self.min_side:
            scale = self.min_side / min(image.size)
            size = (math.ceil(image.width * scale), math.ceil(image.height * scale))
            image = image.resize(size)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        kind = "png"
        if buffer.tell() * 4 / 3 > DATA_URI_LIMIT:
            if self.uploads:
                mark = f"{UPLOAD_MARK}{hashlib.sha256(buffer.getvalue()).hexdigest()}.png"
                self.held[mark] = buffer.getvalue()
                return mark
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=90)
            kind = "jpeg"
        return f"data:image/{kind};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _replaced(value, uris: dict[str, str]):
    """`value` (a body, or part of one) with each mark in `uris` replaced."""
    if isinstance(value, str):
        return uris.get(value, value)
    if isinstance(value, list):
        return [_replaced(v, uris) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, uris) for k, v in value.items()}
    return value


# ----------------------------------------------------------------- messages


def _refusal(name: str, error: Exception, *, accepted: bool) -> str:
    message = scrub(str(error))
    if accepted:
        return (
            f"{name}: {message}. The job was accepted and may be billed; it is not "
            "submitted again. Change the shot (or remove its record) and compile again"
        )
    return f"{name} refused the request: {message}"


def _failed(name: str, record: Record) -> str:
    what = record.failure or "no reason given"
    moderated = any(w in what.lower() for w in ("safety", "moderat", "content_policy", "nsfw"))
    kind = "refused by moderation" if moderated else "failed"
    return (
        f"{name} {kind} (request {record.request_id}): {what}. The job was accepted "
        "and may be billed; it is not submitted again. Change the shot and compile again"
    )


# ------------------------------------------------------------------ results


def conform(video: Path, request: ShotRequest, *, with_sound: bool) -> GeneratedShot:
    """The provider's video as exactly the request's frames (rate and count), its
    sound (if the model makes sound) trimmed or padded to the same length."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or 24)
    target = Fraction(request.fps).limit_denominator(1001)
    frames = _resampled(video, rate, target, request)  # one at a time: 1080p adds up
    audio, sample_rate = (None, None)
    if with_sound:
        audio, sample_rate = _sound(video, request.frames / float(target))
    return GeneratedShot(frames=frames, audio=audio, sample_rate=sample_rate)


def _resampled(video: Path, rate: Fraction, target: Fraction, request: ShotRequest):
    """The request's frame count at its rate, at the video's own size: `select`
    scales and crops once, to the film's exact format."""
    from director.clips import read_frames

    wanted = [int(i * rate / target) for i in range(request.frames)]
    source, index, frame = read_frames(video), -1, None
    for position in wanted:
        while index < position:
            try:
                frame = next(source)
            except StopIteration:
                break  # a short result holds its last frame
            index += 1
        if frame is None:
            raise HostedError("the provider's video has no frames")
        yield frame


def _sound(video: Path, seconds: float) -> tuple[np.ndarray, int]:
    """The video's sound as (samples, channels) float32, fitted to `seconds`; silence
    at 48 kHz when the result has no sound track (a silent render)."""
    import av

    chunks, rate = [], 48000
    with av.open(str(video)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            rate = stream.rate or rate
            for frame in container.decode(stream):
                data = frame.to_ndarray()
                if data.dtype.kind == "i":  # s16 or s32: to [-1, 1]
                    data = data / float(np.iinfo(data.dtype).max)
                data = data.astype(np.float32)
                if frame.format.is_planar:
                    chunks.append(data.T)
                else:
                    chunks.append(data.reshape(-1, frame.layout.nb_channels))
    audio = np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)
    samples = round(seconds * rate)
    audio = np.clip(audio[:samples], -1.0, 1.0)
    if len(audio) < samples:
        pad = np.zeros((samples - len(audio), audio.shape[1]), np.float32)
        audio = np.vstack([audio, pad])
    return np.ascontiguousarray(audio, dtype=np.float32), rate


# ---------------------------------------------------------------- the classes


def _takes_when(model: HostedModel) -> str:
    """When a model that takes character references leaves them out, in words."""
    with_elements = [r.provider for r in model.routes if r.elements]
    if not with_elements:
        return ""
    only = ""
    if len(with_elements) < len(model.routes):
        only = f", and only via {' or '.join(with_elements)}"
    return f"without a first frame (elements go only with image to video{only})"


def backend_class(model: HostedModel) -> type[HostedBackend]:
    """The backend class of one catalog entry."""
    first = model.routes[0]
    caps = HostedCapabilities(
        frame_rates=(model.fps,),
        size_multiple=2,
        max_frames=round(model.durations[-1] * model.fps),
        can_extend=True,  # longer shots: windows, each from the previous one's last frame
        conditioning=model.conditioning,
        joint_audio=model.sound,
        audio_sample_rate=48000 if model.sound else None,
        durations=model.durations,
        sizes=tuple((s.aspect, s.resolution, s.width, s.height) for s in model.sizes),
    )
    where = ", ".join(f"{r.provider}" for r in model.routes)
    return type(
        f"Hosted_{model.name.replace('-', '_').replace('.', '_')}",
        (HostedBackend,),
        {
            "name": model.name,
            "description": f"{model.title}, hosted ({where}); price from {first.price.source}",
            "capabilities": caps,
            "prompt_template": model.template,
            "model": model,
            "takes_when": _takes_when(model),
            "__module__": __name__,
        },
    )
