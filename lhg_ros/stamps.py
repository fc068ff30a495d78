"""One timestamp policy for every node: a stamp from outside is trusted only near the node's
own clock. Stamps of 0, far in the past or the future, or from a clock that jumped are
dropped and counted, never used to place data or to start a stream."""

from dataclasses import dataclass, field


@dataclass
class StampWindow:
    """Accepts a stamp within [now - ``max_age_s``, now + ``max_lead_s``]."""

    max_age_s: float = 2.0
    max_lead_s: float = 0.5
    rejected: int = 0  # since start
    last_reason: str = field(default='', compare=False)

    def accept(self, stamp: float, now: float) -> bool:
        offset = stamp - now
        if -self.max_age_s <= offset <= self.max_lead_s:
            return True
        self.rejected += 1
        if stamp == 0.0:
            self.last_reason = 'the stamp is 0 (an unset header)'
        elif offset > 0:
            self.last_reason = (f'the stamp is {offset:.3g} s in the future (more than '
                                f'{self.max_lead_s:g} s)')
        else:
            self.last_reason = (f'the stamp is {-offset:.3g} s old (more than '
                                f'{self.max_age_s:g} s; replaying a bag needs '
                                'use_sim_time:=true)')
        return False
