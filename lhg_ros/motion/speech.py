"""Is the speaker talking, from the features alone: the fallback when no voice activity
decision (the is_speaking topic) is known. Used by the rule policy and by models that take a
voice activity input."""

import math

DIGITAL_SILENCE = -15.0  # log power of all-zero frames is -15.9 (Kaldi's floor)


class EnergySpeechDetector:
    """Speech = log power well above an adaptive noise floor. The floor falls quickly to quiet
    frames and rises slowly; a peak level does the opposite; the threshold sits 30% of the way
    up (at least ``margin``). Digital silence (the log floor, which no real microphone
    produces) says nothing about the room and is not learned from."""

    def __init__(self, margin: float = 3.0):
        self.margin = margin
        self.reset()

    def reset(self) -> None:
        self.floor = self.peak = None

    def update(self, log_power: float) -> bool:
        if not math.isfinite(log_power) or log_power <= DIGITAL_SILENCE:
            return False
        if self.floor is None:
            self.floor = self.peak = log_power
        self.floor += (0.3 if log_power < self.floor else 0.003) * (log_power - self.floor)
        self.peak += (0.3 if log_power > self.peak else 0.002) * (log_power - self.peak)
        threshold = self.floor + max(self.margin, 0.3 * (self.peak - self.floor))
        return log_power > threshold
