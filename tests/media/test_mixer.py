"""Who hears whom: each leg sends its own tone and FFTs tell which tones reach which leg."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from media.mixer import FRAME_SAMPLES, Bridge, LegState, Mixer, MixerError, Role

RATE = 8000
CALLER, AGENT, SUPERVISOR, COACH, THIRD = "caller", "agent", "supervisor", "coach", "third"
# Multiples of the 50 Hz bin width of a 160-sample frame, so each tone is one clean bin.
TONES = {CALLER: 400, AGENT: 600, SUPERVISOR: 800, COACH: 1000, THIRD: 1400}
MUSIC = 1200


def tone(freq: int, amplitude: int = 4000) -> np.ndarray:
    t = np.arange(FRAME_SAMPLES) / RATE
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def frequencies(frame: np.ndarray) -> set[int]:
    """The tones present in ``frame`` (bins above a tenth of a full tone's magnitude)."""
    magnitude = np.abs(np.fft.rfft(frame.astype(np.float64)))
    full = 4000 * FRAME_SAMPLES / 2
    return {int(k * RATE / FRAME_SAMPLES) for k in np.flatnonzero(magnitude > full / 10)}


def voices(*legs: str) -> dict[str, np.ndarray]:
    return {leg: tone(TONES[leg]) for leg in legs}


def heard(outputs: Mapping[str, np.ndarray]) -> dict[str, set[int]]:
    return {leg: frequencies(frame) for leg, frame in outputs.items()}


def hz(*legs: str) -> set[int]:
    return {TONES[leg] for leg in legs}


def call(*legs: str) -> Mixer[str]:
    mixer: Mixer[str] = Mixer()
    for leg in legs:
        mixer.add(leg)
    return mixer


def test_talk_legs_hear_everyone_but_themselves() -> None:
    mixer = call(CALLER, AGENT, THIRD)
    out = mixer.mix(voices(CALLER, AGENT, THIRD))
    assert heard(out) == {
        CALLER: hz(AGENT, THIRD),
        AGENT: hz(CALLER, THIRD),
        THIRD: hz(CALLER, AGENT),
    }


def test_outputs_are_int16_frames_for_every_leg() -> None:
    out = call(CALLER, AGENT).mix(voices(CALLER, AGENT))
    assert set(out) == {CALLER, AGENT}
    assert all(f.dtype == np.int16 and f.shape == (FRAME_SAMPLES,) for f in out.values())


def test_two_talk_legs_get_each_others_samples_exactly() -> None:
    out = call(CALLER, AGENT).mix(voices(CALLER, AGENT))
    np.testing.assert_array_equal(out[CALLER], tone(TONES[AGENT]))
    np.testing.assert_array_equal(out[AGENT], tone(TONES[CALLER]))


def test_listen_hears_everyone_and_is_heard_by_no_one() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.LISTEN)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR))
    assert heard(out) == {CALLER: hz(AGENT), AGENT: hz(CALLER), SUPERVISOR: hz(CALLER, AGENT)}


def test_whisper_is_heard_only_by_its_target() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR))
    assert heard(out) == {
        CALLER: hz(AGENT),
        AGENT: hz(CALLER, SUPERVISOR),
        SUPERVISOR: hz(CALLER, AGENT),
    }


def test_whisperer_hears_a_listener_nothing_and_another_whisper_only_if_targeted() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    mixer.add(COACH, Role.WHISPER, whisper_to=SUPERVISOR)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR, COACH))
    assert heard(out) == {
        CALLER: hz(AGENT),
        AGENT: hz(CALLER, SUPERVISOR),
        SUPERVISOR: hz(CALLER, AGENT, COACH),
        COACH: hz(CALLER, AGENT),
    }


def test_barge_joins_the_conversation() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.BARGE)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR))
    assert heard(out) == {
        CALLER: hz(AGENT, SUPERVISOR),
        AGENT: hz(CALLER, SUPERVISOR),
        SUPERVISOR: hz(CALLER, AGENT),
    }


def test_supervisor_escalates_listen_whisper_barge_then_leaves() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.LISTEN)
    frames = voices(CALLER, AGENT, SUPERVISOR)
    assert frequencies(mixer.mix(frames)[AGENT]) == hz(CALLER)
    mixer.set_role(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    assert frequencies(mixer.mix(frames)[AGENT]) == hz(CALLER, SUPERVISOR)
    assert frequencies(mixer.mix(frames)[CALLER]) == hz(AGENT)
    mixer.set_role(SUPERVISOR, Role.BARGE)
    assert frequencies(mixer.mix(frames)[CALLER]) == hz(AGENT, SUPERVISOR)
    mixer.remove(SUPERVISOR)
    assert heard(mixer.mix(frames)) == {CALLER: hz(AGENT), AGENT: hz(CALLER)}


def test_held_leg_hears_the_hold_source_and_no_one_hears_it() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.LISTEN)
    mixer.set_role(CALLER, Role.HOLD)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR), hold_source=tone(MUSIC))
    assert heard(out) == {CALLER: {MUSIC}, AGENT: set(), SUPERVISOR: hz(AGENT)}
    np.testing.assert_array_equal(out[CALLER], tone(MUSIC))


def test_held_leg_without_hold_source_hears_silence() -> None:
    mixer = call(CALLER, AGENT, THIRD)
    mixer.set_role(CALLER, Role.HOLD)
    out = mixer.mix(voices(CALLER, AGENT, THIRD))
    assert not out[CALLER].any()
    assert heard(out) == {CALLER: set(), AGENT: hz(THIRD), THIRD: hz(AGENT)}


def test_unhold_returns_the_leg_to_the_call() -> None:
    mixer = call(CALLER, AGENT)
    mixer.set_role(CALLER, Role.HOLD)
    mixer.mix(voices(CALLER, AGENT), hold_source=tone(MUSIC))
    mixer.set_role(CALLER, Role.TALK)
    out = mixer.mix(voices(CALLER, AGENT), hold_source=tone(MUSIC))
    assert heard(out) == {CALLER: hz(AGENT), AGENT: hz(CALLER)}


def test_whisper_to_a_held_leg_is_not_heard() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    mixer.set_role(AGENT, Role.HOLD)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR), hold_source=tone(MUSIC))
    assert heard(out) == {AGENT: {MUSIC}, CALLER: set(), SUPERVISOR: hz(CALLER)}


def test_muted_leg_hears_but_is_heard_by_no_one() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.LISTEN)
    mixer.mute(AGENT)
    assert mixer.leg(AGENT) == LegState(Role.TALK, None, muted=True)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR))
    assert heard(out) == {CALLER: set(), AGENT: hz(CALLER), SUPERVISOR: hz(CALLER)}
    mixer.mute(AGENT, False)
    assert frequencies(mixer.mix(voices(CALLER, AGENT))[CALLER]) == hz(AGENT)


def test_muted_whisper_and_muted_barge_are_silent() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    mixer.add(COACH, Role.BARGE)
    mixer.mute(SUPERVISOR)
    mixer.mute(COACH)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR, COACH))
    assert heard(out)[AGENT] == hz(CALLER)
    assert heard(out)[CALLER] == hz(AGENT)


def test_mute_survives_a_role_change() -> None:
    mixer = call(CALLER, AGENT)
    mixer.mute(AGENT)
    mixer.set_role(AGENT, Role.HOLD)
    mixer.set_role(AGENT, Role.TALK)
    assert mixer.leg(AGENT).muted


@pytest.mark.parametrize("missing", ["absent", "none"])
def test_missing_input_is_silence(missing: str) -> None:
    mixer = call(CALLER, AGENT, THIRD)
    frames: dict[str, np.ndarray | None] = dict(voices(CALLER, THIRD))
    if missing == "none":
        frames[AGENT] = None
    out = mixer.mix(frames)
    assert heard(out) == {CALLER: hz(THIRD), AGENT: hz(CALLER, THIRD), THIRD: hz(CALLER)}


def test_no_input_at_all_is_silence_everywhere() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    out = mixer.mix({})
    assert set(out) == {CALLER, AGENT, SUPERVISOR}
    assert not any(frame.any() for frame in out.values())


def test_inputs_of_unknown_legs_are_ignored() -> None:
    out = call(CALLER, AGENT).mix(voices(CALLER, AGENT, THIRD))
    assert heard(out) == {CALLER: hz(AGENT), AGENT: hz(CALLER)}


@pytest.mark.parametrize("level", [32767, -32768])
def test_sums_saturate_instead_of_wrapping(level: int) -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.LISTEN)
    full = np.full(FRAME_SAMPLES, level, dtype=np.int16)
    out = mixer.mix({CALLER: full, AGENT: full})
    np.testing.assert_array_equal(out[SUPERVISOR], full)
    np.testing.assert_array_equal(out[CALLER], full)


def test_full_scale_tones_clip_without_sign_flips() -> None:
    mixer = call(CALLER, AGENT, THIRD)
    loud = {leg: tone(TONES[CALLER], 32767) for leg in (CALLER, AGENT)}
    exact = loud[CALLER].astype(np.int32) * 2
    out = mixer.mix(loud)[THIRD].astype(np.int32)
    np.testing.assert_array_equal(out, np.clip(exact, -32768, 32767))
    assert np.all(np.sign(out) == np.sign(exact))


def test_whisper_on_top_of_a_full_scale_mix_saturates() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    full = np.full(FRAME_SAMPLES, 30000, dtype=np.int16)
    out = mixer.mix({CALLER: full, SUPERVISOR: full})
    assert np.all(out[AGENT] == 32767)


def test_leg_removed_mid_call() -> None:
    mixer = call(CALLER, AGENT, THIRD)
    frames = voices(CALLER, AGENT, THIRD)
    mixer.mix(frames)
    mixer.remove(THIRD)
    out = mixer.mix(frames)
    assert heard(out) == {CALLER: hz(AGENT), AGENT: hz(CALLER)}
    assert mixer.legs == (CALLER, AGENT)
    mixer.add(THIRD)
    assert heard(mixer.mix(frames))[THIRD] == hz(CALLER, AGENT)


def test_removing_a_whisper_target_turns_whisperers_into_listeners() -> None:
    mixer = call(CALLER, AGENT)
    mixer.add(SUPERVISOR, Role.WHISPER, whisper_to=AGENT)
    mixer.remove(AGENT)
    assert mixer.leg(SUPERVISOR) == LegState(Role.LISTEN)
    mixer.add(AGENT)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR))
    assert heard(out) == {CALLER: hz(AGENT), AGENT: hz(CALLER), SUPERVISOR: hz(CALLER, AGENT)}


def test_last_leg_removed_leaves_an_empty_mix() -> None:
    mixer = call(CALLER)
    mixer.remove(CALLER)
    assert len(mixer) == 0
    assert mixer.mix(voices(CALLER)) == {}


def test_single_leg_hears_silence() -> None:
    out = call(CALLER).mix(voices(CALLER))
    assert not out[CALLER].any()


@pytest.mark.parametrize(
    ("leg", "role", "whisper_to", "message"),
    [
        (AGENT, Role.TALK, None, "already in the mix"),
        (SUPERVISOR, Role.WHISPER, None, "whispers to no one"),
        (SUPERVISOR, Role.WHISPER, SUPERVISOR, "itself"),
        (SUPERVISOR, Role.WHISPER, THIRD, "not in the mix"),
        (SUPERVISOR, Role.LISTEN, AGENT, "only meaningful"),
    ],
)
def test_add_refuses_misuse(leg: str, role: Role, whisper_to: str | None, message: str) -> None:
    mixer = call(CALLER, AGENT)
    with pytest.raises(MixerError, match=message):
        mixer.add(leg, role, whisper_to)
    assert mixer.legs == (CALLER, AGENT)


def test_unknown_legs_are_refused() -> None:
    mixer = call(CALLER)
    for operation in (mixer.remove, mixer.mute, mixer.leg):
        with pytest.raises(MixerError, match="unknown leg"):
            operation(AGENT)
    with pytest.raises(MixerError, match="unknown leg"):
        mixer.set_role(AGENT, Role.TALK)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros(FRAME_SAMPLES, dtype=np.float32),
        np.zeros(FRAME_SAMPLES - 1, dtype=np.int16),
        np.zeros((2, FRAME_SAMPLES), dtype=np.int16),
        [0] * FRAME_SAMPLES,
    ],
)
def test_bad_frames_are_refused(frame: object) -> None:
    mixer = call(CALLER, AGENT)
    with pytest.raises(MixerError, match="input of leg 'caller'"):
        mixer.mix({CALLER: frame})  # type: ignore[dict-item]
    mixer.set_role(CALLER, Role.HOLD)
    with pytest.raises(MixerError, match="hold_source"):
        mixer.mix({}, hold_source=frame)  # type: ignore[arg-type]


def test_outputs_of_one_tick_survive_the_next() -> None:
    mixer = call(CALLER, AGENT)
    first = mixer.mix(voices(CALLER, AGENT))
    kept = first[CALLER].copy()
    mixer.mix({CALLER: tone(MUSIC), AGENT: tone(MUSIC)})
    np.testing.assert_array_equal(first[CALLER], kept)


def test_other_frame_sizes() -> None:
    mixer: Mixer[int] = Mixer(frame_samples=320)
    mixer.add(1)
    mixer.add(2)
    frame = np.arange(320, dtype=np.int16)
    np.testing.assert_array_equal(mixer.mix({1: frame})[2], frame)


# -- Bridge ---------------------------------------------------------------


def test_bridge_legs_hear_each_other() -> None:
    bridge = Bridge(CALLER, AGENT)
    out = bridge.mix(voices(CALLER, AGENT))
    np.testing.assert_array_equal(out[CALLER], tone(TONES[AGENT]))
    np.testing.assert_array_equal(out[AGENT], tone(TONES[CALLER]))


def test_bridge_mute_and_missing_input() -> None:
    bridge = Bridge(CALLER, AGENT)
    bridge.mute(AGENT)
    assert bridge.is_muted(AGENT)
    out = bridge.mix(voices(CALLER, AGENT))
    assert heard(out) == {CALLER: set(), AGENT: hz(CALLER)}
    bridge.mute(AGENT, False)
    assert heard(bridge.mix({AGENT: None})) == {CALLER: set(), AGENT: set()}


def test_bridge_hold_either_side() -> None:
    bridge = Bridge(CALLER, AGENT)
    bridge.hold(CALLER)
    assert bridge.is_held(CALLER)
    out = bridge.mix(voices(CALLER, AGENT), hold_source=tone(MUSIC))
    assert heard(out) == {CALLER: {MUSIC}, AGENT: set()}
    bridge.hold(AGENT)
    out = bridge.mix(voices(CALLER, AGENT), hold_source=tone(MUSIC))
    assert heard(out) == {CALLER: {MUSIC}, AGENT: {MUSIC}}
    bridge.hold(CALLER, False)
    bridge.hold(AGENT, False)
    assert heard(bridge.mix(voices(CALLER, AGENT))) == {CALLER: hz(AGENT), AGENT: hz(CALLER)}


def test_bridge_refuses_misuse() -> None:
    with pytest.raises(MixerError, match="distinct"):
        Bridge(CALLER, CALLER)
    bridge = Bridge(CALLER, AGENT)
    with pytest.raises(MixerError, match="unknown leg"):
        bridge.mute(THIRD)
    with pytest.raises(MixerError, match="input of leg 'agent'"):
        bridge.mix({AGENT: np.zeros(10, dtype=np.int16)})


def test_bridge_promotes_to_a_conference_with_the_same_state() -> None:
    bridge = Bridge(CALLER, AGENT)
    bridge.mute(AGENT)
    mixer = bridge.to_mixer()
    assert mixer.leg(AGENT) == LegState(Role.TALK, None, muted=True)
    mixer.add(SUPERVISOR, Role.BARGE)
    out = mixer.mix(voices(CALLER, AGENT, SUPERVISOR))
    assert heard(out) == {
        CALLER: hz(SUPERVISOR),
        AGENT: hz(CALLER, SUPERVISOR),
        SUPERVISOR: hz(CALLER),
    }


frames = arrays(np.int16, FRAME_SAMPLES)
maybe_frames = st.one_of(st.none(), st.just("absent"), frames)


@settings(max_examples=60, deadline=None)
@given(
    states=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=2),
    inputs=st.lists(maybe_frames, min_size=2, max_size=2),
    hold=st.one_of(st.none(), frames),
)
def test_bridge_matches_a_two_leg_mixer(
    states: list[tuple[bool, bool]], inputs: list[object], hold: np.ndarray | None
) -> None:
    bridge = Bridge(0, 1)
    for leg, (muted, held) in enumerate(states):
        bridge.mute(leg, muted)
        bridge.hold(leg, held)
    given_inputs = {leg: f for leg, f in enumerate(inputs) if not isinstance(f, str)}
    expected = bridge.to_mixer().mix(given_inputs, hold)  # type: ignore[arg-type]
    actual = bridge.mix(given_inputs, hold)  # type: ignore[arg-type]
    assert set(actual) == {0, 1}
    for leg in (0, 1):
        np.testing.assert_array_equal(actual[leg], expected[leg])


# -- the invariant, randomized ---------------------------------------------


def reference_mix(
    mixer: Mixer[int], inputs: Mapping[int, np.ndarray | None], hold: np.ndarray | None
) -> dict[int, np.ndarray]:
    """The obvious O(N^2) definition of who hears whom, in int64."""
    out = {}
    for me in mixer.legs:
        if mixer.leg(me).role is Role.HOLD:
            out[me] = np.zeros(FRAME_SAMPLES, np.int16) if hold is None else hold
            continue
        total = np.zeros(FRAME_SAMPLES, dtype=np.int64)
        for other in mixer.legs:
            state, frame = mixer.leg(other), inputs.get(other)
            whispers_to_me = (
                state.role is Role.WHISPER and not state.muted and state.whisper_to == me
            )
            if other != me and frame is not None and (state.heard_by_all or whispers_to_me):
                total += frame
        out[me] = np.clip(total, -32768, 32767).astype(np.int16)
    return out


leg_specs = st.lists(
    st.tuples(st.sampled_from(list(Role)), st.integers(0, 7), st.booleans(), maybe_frames),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(specs=leg_specs, hold=st.one_of(st.none(), frames), other=frames)
def test_random_mixes_match_the_reference_and_exclude_own_voice(
    specs: list[tuple[Role, int, bool, object]], hold: np.ndarray | None, other: np.ndarray
) -> None:
    mixer: Mixer[int] = Mixer()
    for leg in range(len(specs)):
        mixer.add(leg)
    for leg, (role, target, muted, _) in enumerate(specs):
        target %= len(specs)
        if role is Role.WHISPER and target == leg:
            role = Role.LISTEN
        mixer.set_role(leg, role, target if role is Role.WHISPER else None)
        mixer.mute(leg, muted)
    inputs = {leg: f for leg, (*_, f) in enumerate(specs) if not isinstance(f, str)}

    out = mixer.mix(inputs, hold)  # type: ignore[arg-type]

    assert set(out) == set(mixer.legs)
    expected = reference_mix(mixer, inputs, hold)  # type: ignore[arg-type]
    for leg, frame in out.items():
        assert frame.dtype == np.int16 and frame.shape == (FRAME_SAMPLES,)
        np.testing.assert_array_equal(frame, expected[leg])
    # Whatever a leg says, what it hears does not change.
    for leg in mixer.legs:
        again = mixer.mix({**inputs, leg: other}, hold)  # type: ignore[dict-item]
        np.testing.assert_array_equal(again[leg], out[leg])
