"""Writing clips: the same bytes whether the encoder runs behind the frames' maker
or on the caller's thread, and errors from either side raised as they were."""

from __future__ import annotations

import errno
import signal
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from director import clips


def moving_frames(count: int, width: int = 160, height: int = 96):
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, ((height + count) // 8 + 1, (width + count) // 8 + 1, 3))
    texture = np.kron(blocks, np.ones((8, 8, 1))).astype(np.uint8)  # 8-pixel squares
    for index in range(count):
        yield np.ascontiguousarray(texture[index : index + height, index : index + width])


@pytest.fixture
def threads():
    """Restore the process's setting after a test changes it."""
    before = clips._threads
    yield clips.use_threads
    clips.use_threads(before)


def test_the_bytes_do_not_depend_on_the_threads(tmp_path, threads):
    written = {}
    for count in (1, 2, 4):
        threads(count)
        path = tmp_path / f"clip-{count}.mp4"
        assert clips.write_clip(path, moving_frames(30), Fraction(24), keyframes={0, 12}) == 30
        written[count] = path.read_bytes()
    assert written[1] == written[2] == written[4]
    assert clips.count_frames(tmp_path / "clip-2.mp4") == 30
    frames = list(clips.read_frames(tmp_path / "clip-2.mp4"))
    first = next(moving_frames(30))
    assert np.abs(frames[0].astype(int) - first).mean() < 8  # another frame: about 75


def test_a_failing_frame_maker_stops_the_encoder(tmp_path, threads):
    threads(2)

    def frames():
        yield from moving_frames(6)
        raise RuntimeError("the backend broke")

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="the backend broke"):
        clips.write_clip(tmp_path / "broken.mp4", frames(), Fraction(24))
    assert threading.active_count() == before  # the encoder thread is gone


def test_an_encoder_error_reaches_the_caller_as_it_was(tmp_path, threads, monkeypatch):
    """A full disk met on the encoder's thread is still an OSError with its errno
    (the runtime tells a full disk by it), and the frames' maker stops soon."""
    threads(2)
    made = []

    def frames():
        for frame in moving_frames(200):
            made.append(frame)
            yield frame

    original = clips._Encoder.add

    def add(self, frame):
        original(self, frame)
        if self.count == 3:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(clips._Encoder, "add", add)
    with pytest.raises(OSError) as raised:
        clips.write_clip(tmp_path / "full.mp4", frames(), Fraction(24))
    assert raised.value.errno == errno.ENOSPC
    assert len(made) < 20


def test_ctrl_c_while_the_encoder_finishes_waits_for_it(tmp_path, threads, monkeypatch):
    """A Ctrl-C that lands while the last frames are still being coded is raised
    only after the encoder thread has stopped: the container closes next, and
    closing it under a running encoder crashed the process (SIGSEGV)."""
    threads(2)
    coding = threading.Event()

    def add(self, frame):  # a slow encoder that touches nothing once stopped
        coding.set()
        time.sleep(0.3)
        coding.clear()

    monkeypatch.setattr(clips._Encoder, "add", add)
    main = threading.get_ident()
    ctrl_c = threading.Timer(0.15, signal.pthread_kill, (main, signal.SIGINT))
    before = threading.active_count()
    ctrl_c.start()
    with pytest.raises(KeyboardInterrupt):
        clips.write_clip(tmp_path / "stopped.mp4", moving_frames(3), Fraction(24))
    ctrl_c.join()
    assert not coding.is_set()
    assert threading.active_count() == before  # the encoder thread is gone


def test_a_bad_frame_fails_on_the_encoders_thread_and_is_raised_here(tmp_path, threads):
    threads(2)
    frames = [*moving_frames(3), np.zeros((96, 160), np.uint8)]  # no colour channels
    with pytest.raises(ValueError):
        clips.write_clip(tmp_path / "bad.mp4", iter(frames), Fraction(24))


def _yuv(path):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray().astype(int) for f in container.decode(video=0)]


@pytest.mark.parametrize("threads_count", [1, 2])
def test_a_clip_copied_as_decoded_keeps_its_yuv_and_its_bytes(tmp_path, threads, threads_count):
    """Cut from a clip in its own pixel format: no RGB round trip, so the frames
    stay nearer the source's than a cut through RGB, and the bytes still do not
    depend on the threads."""
    threads(threads_count)
    source = tmp_path / "source.mp4"
    clips.write_clip(source, moving_frames(20), Fraction(24))
    planar = list(clips.read_planar(source, 4, 12))
    assert len(planar) == 8 and all(isinstance(f, clips.PlanarFrame) for f in planar)
    assert planar[0].shape == (96, 160)
    kept, through_rgb = tmp_path / "kept.mp4", tmp_path / "rgb.mp4"
    clips.write_clip(kept, iter(planar), Fraction(24), clips.INTERMEDIATE)
    clips.write_clip(through_rgb, clips.read_frames(source, 4, 12), Fraction(24))
    wanted = _yuv(source)[4:12]
    error = [np.abs(a - b).mean() for a, b in zip(_yuv(kept), wanted, strict=True)]
    detour = [np.abs(a - b).mean() for a, b in zip(_yuv(through_rgb), wanted, strict=True)]
    assert max(error) < 0.5 < min(detour)  # crf 10: nearly lossless, unlike the RGB detour
    again = tmp_path / "again.mp4"
    threads(3 - threads_count)
    clips.write_clip(again, clips.read_planar(source, 4, 12), Fraction(24))
    assert again.read_bytes() == kept.read_bytes()


@pytest.mark.parametrize("codec", ["prores", "png"])
def test_planar_frames_for_other_layouts_go_through_rgb_as_before(tmp_path, codec):
    source = tmp_path / "source.mp4"
    clips.write_clip(source, moving_frames(6), Fraction(24))
    suffix = clips.DELIVERY[codec].suffix
    planar, rgb = tmp_path / f"planar{suffix}", tmp_path / f"rgb{suffix}"
    codec = clips.DELIVERY[codec]
    assert clips.write_clip(planar, clips.read_planar(source), Fraction(24), codec) == 6
    clips.write_clip(rgb, clips.read_frames(source), Fraction(24), codec)
    assert planar.read_bytes() == rgb.read_bytes()
