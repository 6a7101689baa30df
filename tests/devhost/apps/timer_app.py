"""Test app: a fast timer from a %Setting% and a monitored yearly timer (for the past-due check)."""

import azure.functions as func
from record import record

app = func.FunctionApp()


@app.timer_trigger(arg_name="timer", schedule="%FAST_SCHEDULE%", run_on_startup=False, use_monitor=False)
def fast(timer: func.TimerRequest) -> None:
    record("fast", "tick", past_due=timer.past_due)


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", use_monitor=True)
def yearly(timer: func.TimerRequest) -> None:
    record("yearly", "tick", past_due=timer.past_due)
