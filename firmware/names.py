# Names of the numeric codes in codes.py, for people: the host's reports,
# logs and docs. The board does not load this module (it costs RAM).

STATE_NAMES = ("idle", "priming", "ready", "running", "paused", "exchange", "complete", "safe")

PRIO_NAMES = ("none", "low", "medium", "high")

ALARM_NAMES = (
    "", "air_in_line", "access_pressure_low", "return_pressure_high",
    "return_pressure_low", "pre_pressure_high", "no_flow", "flow_low",
    "clot_suspected", "blood_stasis", "cartridge_exchange_due",
    "therapy_complete", "aptt_check_due", "power_restored", "sensor_loss",
    "host_link_lost",
)

EVENT_NAMES = (
    "", "state", "alarm", "alarm_clear", "alarm_ack", "cartridge_exchange_due",
    "cartridge", "heparin", "aptt_entered", "boot", "primed", "audio_pause",
    "override", "restored",
)

CMD_NAMES = (
    "", "prime", "start", "pause", "resume", "stop", "set_flow", "aptt",
    "confirm_exchange", "ack_alarms", "audio_pause", "set_weight",
    "heparin_start", "override_aptt", "test_hang", "request_exchange", "time_scale",
    "test_reset", "maintenance",
)

RESULT_NAMES = ("ok", "refused_in_state", "out_of_range", "unknown_command",
                "condition_present", "test_mode_only", "unsupported")

RESET_NAMES = ("power_on", "watchdog", "fault")
