"""Rectified-flow samplers, in the style of k-diffusion: short functions over
`(velocity, x, times)`.

Convention (rectified flow, Liu et al. 2022; the SD3 form): a sample at time
`t` is `x_t = (1 - t) * x_0 + t * noise`, so `t = 1` is pure noise, `t = 0`
the data, and the model predicts the velocity `dx/dt = noise - x_0`.
Sampling integrates from `t = 1` down to `t = 0`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Velocity = Callable[[torch.Tensor, float], torch.Tensor]
PairVelocity = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]


def times(steps: int, shift: float = 1.0) -> torch.Tensor:
    """`steps + 1` times from 1 to 0, evenly spaced, then warped by SD3's `shift`
    (`shift > 1` spends more of the steps near the noise)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return shift * t / (1 + (shift - 1) * t)


def guided(pair: PairVelocity, scale: float) -> Velocity:
    """Classifier-free guidance (Ho and Salimans 2022) on velocities:
    `v_u + scale * (v_c - v_u)`, where `pair` gives the conditional and the
    unconditional velocity (one batched model call)."""

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        conditional, unconditional = pair(x, t)
        return unconditional + scale * (conditional - unconditional)

    return velocity


@torch.no_grad()
def sample_euler(velocity: Velocity, x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Euler's method on the flow ODE: one velocity evaluation a step."""
    for t, t_next in zip(ts[:-1].tolist(), ts[1:].tolist(), strict=True):
        x = x + (t_next - t) * velocity(x, t)
    return x


@torch.no_grad()
def sample_heun(velocity: Velocity, x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Heun's method (Karras et al. 2022, algorithm 1): an Euler step corrected by
    the velocity at its end, two evaluations a step; the last step to `t = 0`
    is plain Euler."""
    for t, t_next in zip(ts[:-1].tolist(), ts[1:].tolist(), strict=True):
        v = velocity(x, t)
        x_next = x + (t_next - t) * v
        if t_next > 0.0:
            x_next = x + (t_next - t) * 0.5 * (v + velocity(x_next, t_next))
        x = x_next
    return x


SAMPLERS = {"euler": sample_euler, "heun": sample_heun}
