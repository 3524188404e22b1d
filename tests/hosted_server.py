"""A strict stand-in for fal's queue and Runway's task API, on 127.0.0.1 over TLS.

It follows the providers' documented sequences: fal `POST /{app}/{path}` then
`GET /{owner}/{alias}/requests/{id}/status` (IN_QUEUE, IN_PROGRESS, COMPLETED)
and `GET /{owner}/{alias}/requests/{id}` for the result (422 there for a
rejected argument or a moderation refusal); Runway `POST /v1/{resource}` then
`GET /v1/tasks/{id}` (PENDING, RUNNING, SUCCEEDED or FAILED with a
failureCode).  Every request body is checked against the model's real
schema (field names, types, enums): a violation is recorded, answered as
the provider would, and fails the test that reads `violations`.

It serves a real mp4 made with PyAV for each job (coloured from the request,
so the same request gives the same video), at the model's own rate and one
frame longer than asked, with sound for the models that make it.  It can be
told to answer 429 with Retry-After, 5xx on polls, moderation refusals, and
expired links (403 on the first download).  The schemas here are written from
the providers' pages and SDK types independently of backends/hosted/catalog.py,
so a mistake in the catalog fails here.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np

FAL_KEY = "fal-test-key-5f1e9a0c7d3b4e21"
RUNWAY_KEY = "key_runway_test_8c4d2e7f9a1b3c5d"

_SEEDANCE = {
    "prompt": str, "image_url": str, "end_image_url": str, "generate_audio": bool,
    "duration": ([str(s) for s in range(4, 16)] + ["auto"]),
    "resolution": ["480p", "720p", "1080p"],
    "aspect_ratio": ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"],
}  # fmt: skip
_KLING = {
    "prompt": str, "start_image_url": str, "end_image_url": str, "generate_audio": bool,
    "negative_prompt": str, "elements": list, "cfg_scale": float,
    "duration": [str(s) for s in range(3, 16)],
}  # fmt: skip
_VEO = {
    "prompt": str, "image_url": str, "generate_audio": bool, "seed": int,
    "negative_prompt": str, "duration": ["4s", "6s", "8s"],
    "resolution": ["720p", "1080p", "4k"], "aspect_ratio": ["16:9", "9:16"],
}  # fmt: skip
_HAILUO = {"prompt": str, "duration": ["6", "10"], "prompt_optimizer": bool}
_LTX = {
    "prompt": str, "image_url": str, "generate_audio": bool, "fps": [25, 50],
    "duration": ["6", "8", "10"], "resolution": ["1080p", "1440p", "2160p"],
    "aspect_ratio": ["16:9"],
}  # fmt: skip
_RAY = {
    "prompt": str, "image_url": str, "end_image_url": str, "loop": bool,
    "aspect_ratio": ["16:9", "9:16", "4:3", "3:4", "21:9", "9:21"],
    "resolution": ["540p", "720p", "1080p"], "duration": ["5s", "9s"],
}  # fmt: skip
_PIKA = {
    "prompt": str, "seed": int, "negative_prompt": str, "resolution": ["720p", "1080p"],
    "duration": [5, 10],
}  # fmt: skip
# endpoint: (schema, required fields, frame rate of its results, makes sound)
FAL_ENDPOINTS: dict[str, tuple[dict, set[str], float, bool]] = {
    "bytedance/seedance-2.0/text-to-video": (
        {k: v for k, v in _SEEDANCE.items() if "image" not in k}, {"prompt"}, 24.0, True),
    "bytedance/seedance-2.0/image-to-video": (_SEEDANCE, {"prompt", "image_url"}, 24.0, True),
    "fal-ai/kling-video/v3/pro/text-to-video": (
        {**{k: v for k, v in _KLING.items() if "image" not in k and k != "elements"},
         "aspect_ratio": ["16:9", "9:16", "1:1"]}, set(), 24.0, True),
    "fal-ai/kling-video/v3/pro/image-to-video": (_KLING, {"start_image_url"}, 24.0, True),
    "fal-ai/veo3.1": ({k: v for k, v in _VEO.items() if k != "image_url"}, {"prompt"}, 24.0, True),
    "fal-ai/veo3.1/image-to-video": (
        {**_VEO, "aspect_ratio": ["auto", "16:9", "9:16"]}, {"prompt", "image_url"}, 24.0, True),
    "fal-ai/minimax/hailuo-02/standard/text-to-video": (_HAILUO, {"prompt"}, 24.0, False),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": (
        {**_HAILUO, "image_url": str, "end_image_url": str, "resolution": ["512P", "768P"]},
        {"prompt", "image_url"}, 24.0, False),
    "fal-ai/ltx-2/text-to-video": (
        {k: v for k, v in _LTX.items() if k != "image_url"}, {"prompt"}, 25.0, True),
    "fal-ai/ltx-2/image-to-video": (_LTX, {"prompt", "image_url"}, 25.0, True),
    # fal's llms.txt of each endpoint, read 2026-12-07
    "fal-ai/luma-dream-machine/ray-2-flash": (
        {k: v for k, v in _RAY.items() if "image" not in k}, {"prompt"}, 24.0, False),
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": (_RAY, {"prompt"}, 24.0, False),
    "fal-ai/pika/v2.2/text-to-video": (
        {**_PIKA, "aspect_ratio": ["16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3"]},
        {"prompt"}, 24.0, False),
    "fal-ai/pika/v2.2/image-to-video": (
        {**_PIKA, "image_url": str}, {"prompt", "image_url"}, 24.0, False),
}  # fmt: skip
_GEN45_RATIOS = ["1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"]
# runwayml 5.24.0's types (image_to_video_create_params, text_to_video_create_params);
# where they say only "int" for a duration, the model's own range.
_SEEDANCE2_RATIOS = [
    "992:432", "864:496", "752:560", "640:640", "560:752", "496:864", "1470:630",
    "1280:720", "1112:834", "960:960", "834:1112", "720:1280", "2206:946", "1920:1080",
    "1664:1248", "1440:1440", "1248:1664", "1080:1920", "3840:1646", "3840:2160",
    "3840:2880", "3840:3840", "2880:3840", "2160:3840",
]  # fmt: skip
_SEEDANCE2 = {"model": str, "promptText": str, "audio": bool, "seed": int,
              "duration": list(range(4, 16)), "ratio": _SEEDANCE2_RATIOS}  # fmt: skip
_KLING3 = {"model": str, "promptText": str, "audio": bool, "cfgScale": float,
           "providerSettings": dict, "duration": list(range(3, 16)),
           "ratio": ["1920:1080", "1080:1920", "1440:1440"]}  # fmt: skip
_VEO31 = {"model": str, "promptText": str, "audio": bool, "seed": int,
          "negativePrompt": str, "duration": [4, 6, 8],
          "ratio": ["1280:720", "720:1280", "1080:1920", "1920:1080"]}  # fmt: skip
RUNWAY_MODELS: dict[tuple[str, str], tuple[dict, set[str]]] = {
    ("image_to_video", "gen4.5"): (
        {"model": str, "promptImage": (str, list), "promptText": str, "ratio": _GEN45_RATIOS,
         "duration": list(range(2, 11)), "seed": int},
        {"model", "promptImage", "promptText", "ratio", "duration"}),
    ("text_to_video", "gen4.5"): (
        {"model": str, "promptText": str, "ratio": ["1280:720", "720:1280"],
         "duration": list(range(2, 11)), "seed": int},
        {"model", "promptText", "ratio", "duration"}),
    ("image_to_video", "seedance2"): (
        {**_SEEDANCE2, "promptImage": (str, list)}, {"model", "promptImage"}),
    ("text_to_video", "seedance2"): (_SEEDANCE2, {"model", "promptText"}),
    ("image_to_video", "kling3.0_pro"): (
        {**_KLING3, "promptImage": (str, list)}, {"model", "promptImage"}),
    ("text_to_video", "kling3.0_pro"): (_KLING3, {"model", "ratio"}),
    ("image_to_video", "veo3.1"): (
        {**_VEO31, "promptImage": (str, list)}, {"model", "promptImage", "ratio"}),
    ("text_to_video", "veo3.1"): (_VEO31, {"model", "promptText", "ratio"}),
}  # fmt: skip
RESULT_SIZE = (256, 144)  # results are small: the director conforms them anyway


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now with the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def check_body(schema: dict, required: set[str], body: dict,
               uploads: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
    """What in `body` the schema does not allow.  `uploads` are the upload URIs this
    provider handed out (a picture may name one of them instead of a data URI)."""
    problems = [f"missing {name}" for name in sorted(required - set(body))]
    for name, value in body.items():
        if name not in schema:
            problems.append(f"unknown field {name}")
            continue
        allowed = schema[name]
        if isinstance(allowed, list):
            if value not in allowed or type(value) is not type(allowed[0]):
                problems.append(f"{name}={value!r} is not one of {allowed}")
        elif isinstance(allowed, tuple):
            if not isinstance(value, allowed):
                problems.append(f"{name} has type {type(value).__name__}")
        elif allowed is float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"{name} is not a number")
        elif type(value) is not allowed:
            problems.append(f"{name} has type {type(value).__name__}, not {allowed.__name__}")
    for name, value in body.items():
        problems += [f"{name}: {p}" for p in _reference_problems(value, uploads)]
    if isinstance(body.get("promptImage"), list):
        problems += _positions_problems(body["promptImage"])
    return problems


def _reference_problems(value, uploads: frozenset[str]) -> list[str]:
    """Pictures named anywhere in a value: a data URI, a provider's upload URI it
    handed out, or a public link; never a local one."""
    if isinstance(value, list):
        return [p for item in value for p in _reference_problems(item, uploads)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _reference_problems(item, uploads)]
    if not isinstance(value, str):
        return []
    if value.startswith(("http://127.", "https://127.", "file:")):
        return ["a local URL (providers refuse them): send a data URI"]
    if value.startswith("runway://") and value not in uploads:
        return [f"{value} was never uploaded"]
    if value.startswith("upload:"):
        return [f"{value} is not a URI"]
    return []


def _positions_problems(images: list) -> list[str]:
    """Runway's promptImage list: {position, uri} items, a first frame, maybe a last."""
    if not all(isinstance(i, dict) and set(i) == {"position", "uri"} for i in images):
        return ["promptImage items must be {position, uri}"]
    positions = [i["position"] for i in images]
    if positions not in (["first"], ["first", "last"]):
        return [f"promptImage positions {positions}: a first frame, then maybe a last"]
    return []


def make_video(path: Path, seconds: float, fps: float, sound: bool, seed: bytes) -> None:
    """A real mp4: `seconds` at `fps` plus one frame, a colour from `seed`, moving bars."""
    width, height = RESULT_SIZE
    colour = np.frombuffer(hashlib.sha256(seed).digest()[:3], np.uint8)
    frames = round(seconds * fps) + 1  # providers often give a frame more than asked
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        video = container.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=48000) if sound else None
        for index in range(frames):
            picture = np.empty((height, width, 3), np.uint8)
            picture[:] = colour
            bar = (index * 7) % width
            picture[:, bar : bar + 8] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            samples = round(seconds * 48000)
            tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(samples) / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = np.ascontiguousarray(np.stack([tone[start : start + 1024]] * 2))
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate = 48000
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)


@dataclass
class Job:
    id: str
    provider: str
    endpoint: str
    body: dict
    submitted: float
    polls: int = 0
    outcome: str = "ok"  # or "moderation", "invalid"
    detail: list[str] = field(default_factory=list)
    token: str = ""
    downloads: int = 0
    rendered: threading.Event = field(default_factory=threading.Event)  # its video is made


class HostedServer:
    """Start with `with HostedServer(folder) as server:`; `env()` is what a compile needs."""

    def __init__(self, folder: Path, latency: float = 0.2):
        self.folder = folder
        self.latency = latency  # seconds a job takes to "render"
        self.jobs: dict[str, Job] = {}
        self.submissions: list[Job] = []
        self.violations: list[str] = []  # broken protocol or schema: fails the test
        self.requests: list[tuple[str, str, float]] = []  # (method, path, time)
        self.throttle_submits = 0  # answer this many submissions with 429
        self.retry_after = 1.0
        self.throttled_at: float | None = None  # when the last 429 was sent
        self.fail_polls = 0  # answer this many status polls with 500
        self.expire_first_download = False
        self.uploads: dict[str, bytes] = {}  # Runway upload URI → the file uploaded
        self.upload_slots: dict[str, str] = {}  # storage slot → its upload URI
        self.lock = threading.Lock()
        self.cert, self.key = make_certificate(folder)
        self.files = folder / "served"
        self.files.mkdir(exist_ok=True)

    # -- lifecycle
    def __enter__(self) -> HostedServer:
        handler = _handler(self)
        self.httpd = _Listener(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment a compile talks to this server with, and to nothing else:
        any other address goes to a proxy that is not there."""
        return {
            "FAL_KEY": FAL_KEY,
            "RUNWAYML_API_SECRET": RUNWAY_KEY,
            "FAL_QUEUE_RUN_HOST": self.host,
            "FAL_RUN_HOST": self.host,
            "RUNWAYML_BASE_URL": f"https://{self.host}",
            "SSL_CERT_FILE": str(self.cert),
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "ALL_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1",
            "FAL_HOME_DIR": str(self.folder / "fal-home"),
        }

    def duplicates(self) -> int:
        """Submissions of a body already submitted."""
        seen = [json.dumps([j.endpoint, j.body], sort_keys=True) for j in self.submissions]
        return len(seen) - len(set(seen))

    # -- the protocol
    def submit(self, provider: str, endpoint: str, body: dict, problems: list[str]) -> Job:
        job = Job(uuid.uuid4().hex, provider, endpoint, body, time.monotonic())
        if problems:
            job.outcome, job.detail = "invalid", problems
            self.violations += [f"{endpoint}: {p}" for p in problems]
        elif "FORBIDDEN" in json.dumps(body):
            job.outcome = "moderation"
        with self.lock:
            self.jobs[job.id] = job
            self.submissions.append(job)
        if job.outcome == "ok":  # made while the job "renders", as a provider's is
            threading.Thread(target=self._render, args=(job,), daemon=True).start()
        return job

    def _render(self, job: Job) -> None:
        if job.provider == "fal":
            _, _, fps, sound = FAL_ENDPOINTS[job.endpoint]
            seconds = _seconds(job.body.get("duration", 5))
        else:
            fps, sound, seconds = 24.0, False, float(job.body["duration"])
        seed = json.dumps([job.endpoint, job.body], sort_keys=True).encode()
        try:
            make_video(self.files / f"render-{job.id}.mp4", seconds, fps, sound, seed)
        finally:  # a failed render leaves no file: the link then answers 404
            job.rendered.set()

    def state(self, job: Job) -> str:
        job.polls += 1
        elapsed = time.monotonic() - job.submitted
        if job.polls == 1 and elapsed < self.latency:
            return "queued"
        return "done" if elapsed >= self.latency else "running"

    def result_file(self, job: Job) -> str:
        """A fresh link to the job's video (a new one after the last expired)."""
        if not job.token:
            job.rendered.wait()
            job.token = uuid.uuid4().hex
            rendered = self.files / f"render-{job.id}.mp4"
            if rendered.is_file():
                os.link(rendered, self.files / f"{job.token}.mp4")
        return f"https://{self.host}/files/{job.token}.mp4"


PNG = b"\x89PNG\r\n\x1a\n"


def _form(content_type: str, data: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + data
    )
    if not message.is_multipart():
        return {}
    return {
        str(part.get_param("name", header="content-disposition")): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


class _Listener(ThreadingHTTPServer):
    # The default backlog of 5 drops the SYNs of a burst of connections (eight jobs
    # submitted at once), which the client then resends a second later.
    request_queue_size = 128
    daemon_threads = True


def _seconds(value) -> float:
    return float(str(value).rstrip("s"))


def _handler(server: HostedServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stall

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, payload=None, headers: dict | None = None, raw=None):
            data = raw if raw is not None else json.dumps(payload or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "video/mp4" if raw is not None else
                             "application/json")  # fmt: skip
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(length) or b"{}")

        def _authorised(self, provider: str) -> bool:
            wanted = f"Key {FAL_KEY}" if provider == "fal" else f"Bearer {RUNWAY_KEY}"
            if self.headers.get("Authorization") != wanted:
                server.violations.append(f"{self.path}: wrong or missing credentials")
                self._send(401, {"detail": "unauthorised"})
                return False
            return True

        def do_POST(self) -> None:
            server.requests.append(("POST", self.path, time.monotonic()))
            if self.path.split("?")[0] == "/v1/uploads":
                return self._runway_upload()
            if self.path.startswith("/storage/"):
                return self._storage_upload()
            if self.path.startswith("/v1/"):
                return self._runway_submit()
            return self._fal_submit()

        def do_GET(self) -> None:
            server.requests.append(("GET", self.path, time.monotonic()))
            path = self.path.split("?")[0]
            if path.startswith("/files/"):
                return self._file(path)
            if path.startswith("/v1/tasks/"):
                return self._runway_task(path.removeprefix("/v1/tasks/"))
            if "/requests/" in path:
                return self._fal_request(path)
            server.violations.append(f"GET {path}: no such route")
            self._send(404, {"detail": "not found"})

        def _throttled(self) -> bool:
            with server.lock:
                if server.throttle_submits <= 0:
                    if server.throttled_at is not None:
                        waited = time.monotonic() - server.throttled_at
                        if waited < server.retry_after - 0.05:
                            server.violations.append(f"asked again {waited:.2f}s after a 429 "
                                                     f"saying {server.retry_after}s")  # fmt: skip
                        server.throttled_at = None
                    return False
                server.throttle_submits -= 1
                server.throttled_at = time.monotonic()
            self._send(429, {"detail": "rate limited"},
                       {"Retry-After": f"{server.retry_after:g}"})  # fmt: skip
            return True

        # -- fal
        def _fal_submit(self) -> None:
            endpoint = self.path.lstrip("/").split("?")[0]
            body = self._body()
            if not self._authorised("fal") or self._throttled():
                return
            if endpoint not in FAL_ENDPOINTS:
                server.violations.append(f"POST {endpoint}: no such fal app")
                return self._send(404, {"detail": "application not found"})
            schema, required, _, _ = FAL_ENDPOINTS[endpoint]
            job = server.submit("fal", endpoint, body, check_body(schema, required, body))
            owner_alias = "/".join(endpoint.split("/")[:2])  # status URLs drop the sub-path
            base = f"https://{server.host}/{owner_alias}/requests/{job.id}"
            self._send(200, {"request_id": job.id, "response_url": base,
                             "status_url": base + "/status", "cancel_url": base + "/cancel",
                             "queue_position": 0})  # fmt: skip

        def _fal_request(self, path: str) -> None:
            if not self._authorised("fal"):
                return
            prefix, _, rest = path.lstrip("/").partition("/requests/")
            request_id, _, tail = rest.partition("/")
            job = server.jobs.get(request_id)
            if (
                job is None
                or not f"{job.endpoint}/".startswith(f"{prefix}/")
                or prefix.count("/") != 1
            ):
                server.violations.append(f"GET {path}: unknown request or wrong app path")
                return self._send(404, {"detail": "request not found"})
            if tail == "status":
                return self._fal_status(job)
            if tail:
                server.violations.append(f"GET {path}: no such route")
                return self._send(404, {"detail": "not found"})
            if time.monotonic() - job.submitted < server.latency:
                server.violations.append(f"result of {job.id} fetched before it completed")
                return self._send(400, {"detail": "request is still in progress"})
            if job.outcome == "invalid":
                detail = [{"loc": ["body"], "msg": p, "type": "value_error"} for p in job.detail]
                return self._send(422, {"detail": detail})
            if job.outcome == "moderation":
                return self._send(422, {"detail": [{"loc": ["body", "prompt"], "type":
                                  "content_policy_violation", "msg": "The content could not "
                                  "be processed because it contained material flagged by a "
                                  "content checker."}]})  # fmt: skip
            url = server.result_file(job)
            self._send(200, {"video": {"url": url, "content_type": "video/mp4"}})

        def _fal_status(self, job: Job) -> None:
            with server.lock:
                if server.fail_polls > 0:
                    server.fail_polls -= 1
                    return self._send(500, {"detail": "internal error"})
            state = server.state(job)
            if state == "queued":
                return self._send(202, {"status": "IN_QUEUE", "queue_position": 0,
                                        "response_url": "", "logs": None})  # fmt: skip
            if state == "running":
                return self._send(202, {"status": "IN_PROGRESS", "logs": None})
            self._send(200, {"status": "COMPLETED", "logs": None, "metrics": {}})

        # -- Runway
        def _runway_submit(self) -> None:
            resource = self.path.removeprefix("/v1/").split("?")[0]
            body = self._body()
            if not self._authorised("runway") or self._throttled():
                return
            if not self.headers.get("X-Runway-Version"):
                server.violations.append(f"POST {self.path}: no X-Runway-Version header")
            key = (resource, body.get("model"))
            if key not in RUNWAY_MODELS:
                server.violations.append(f"POST {self.path}: no such model {key}")
                return self._send(400, {"error": "unknown model"})
            schema, required = RUNWAY_MODELS[key]
            problems = check_body(schema, required, body, frozenset(server.uploads))
            if problems:  # Runway validates at submission
                server.violations += [f"{resource}: {p}" for p in problems]
                return self._send(400, {"error": "; ".join(problems)})
            job = server.submit("runway", resource, body, [])
            self._send(200, {"id": job.id})

        def _runway_task(self, task_id: str) -> None:
            if not self._authorised("runway"):
                return
            job = server.jobs.get(task_id)
            if job is None:
                server.violations.append(f"GET task {task_id}: unknown task")
                return self._send(404, {"error": "not found"})
            with server.lock:
                if server.fail_polls > 0:
                    server.fail_polls -= 1
                    return self._send(502, {"error": "bad gateway"})
            created = "2026-12-07T10:00:00.000Z"
            state = server.state(job)
            if state != "done":
                status = "PENDING" if state == "queued" else "RUNNING"
                extra = {"progress": 0.5} if status == "RUNNING" else {}
                return self._send(200, {"id": job.id, "status": status, "createdAt": created,
                                        "estimatedCost": {"credits": 60}, **extra})  # fmt: skip
            if job.outcome == "moderation":
                return self._send(200, {"id": job.id, "status": "FAILED", "createdAt": created,
                                        "cost": {"credits": 0}, "failure": "Input rejected "
                                        "by content moderation",
                                        "failureCode": "SAFETY.INPUT.TEXT"})  # fmt: skip
            url = server.result_file(job)
            self._send(200, {"id": job.id, "status": "SUCCEEDED", "createdAt": created,
                             "cost": {"credits": 60}, "output": [url]})  # fmt: skip

        def _runway_upload(self) -> None:
            """`POST /v1/uploads`: a slot on the storage server for one file."""
            body = self._body()
            if not self._authorised("runway"):
                return
            if set(body) != {"filename", "type"} or body["type"] != "ephemeral":
                server.violations.append(f"POST /v1/uploads: body {body}")
                return self._send(400, {"error": "filename and type ephemeral expected"})
            slot = uuid.uuid4().hex
            uri = f"runway://uploads/{slot}/{body['filename']}"
            server.upload_slots[slot] = uri
            self._send(200, {"runwayUri": uri, "uploadUrl": f"https://{server.host}/storage/"
                             f"{slot}", "fields": {"key": slot, "policy": "p"}})  # fmt: skip

        def _storage_upload(self) -> None:
            """The file itself, as multipart form data with the slot's fields, no key."""
            slot = self.path.removeprefix("/storage/")
            if self.headers.get("Authorization"):
                server.violations.append(f"POST {self.path}: credentials sent to storage")
            length = int(self.headers.get("Content-Length", "0"))
            form = _form(self.headers.get("Content-Type", ""), self.rfile.read(length))
            uri = server.upload_slots.pop(slot, None)
            data = form.get("file", b"")
            if uri is None or form.get("key") != slot.encode() or not data.startswith(PNG):
                server.violations.append(f"POST {self.path}: not the slot's fields and a PNG")
                return self._send(400, {"error": "bad upload"})
            server.uploads[uri] = data
            self._send(204, raw=b"")

        # -- results
        def _file(self, path: str) -> None:
            if self.headers.get("Authorization"):
                server.violations.append(f"GET {path}: credentials sent to a storage link")
            target = server.files / path.removeprefix("/files/")
            token = target.stem
            job = next((j for j in server.jobs.values() if j.token == token), None)
            if job is None or not target.is_file():
                return self._send(404, {"detail": "not found"})
            job.downloads += 1
            if server.expire_first_download and job.downloads == 1:
                job.token = ""  # the next poll hands out a fresh link
                return self._send(403, {"detail": "link expired"})
            self._send(200, raw=target.read_bytes())

    return Handler
