# wlstop.py: stop.h for the python workloads: a job works in units until
# told to stop by the file "stop" in its working directory (empty: end
# MORE units after the one in which it was first seen; a number N: end
# after unit N, the uninterrupted run a test compares the thawed one with).
# The job's last line says "NAME: stopped after N UNITS".


class Stop:
    def __init__(self, more=2):
        self.more = more
        self.target = 0

    def __call__(self, done):
        """True once the job should end, DONE units done."""
        if not self.target:
            try:
                with open("stop") as f:
                    text = f.read().strip()
            except FileNotFoundError:
                return False
            self.target = int(text) if text.isdigit() and int(text) > 0 else done + self.more
        return done >= self.target
