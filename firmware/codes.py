# Numeric codes shared by the firmware, the link and the host.
# They are part of protocol v1 (docs/protocol.md): never renumber, only append.

# Therapy states
IDLE = 0
PRIMING = 1
READY = 2
RUNNING = 3
PAUSED = 4
EXCHANGE = 5
COMPLETE = 6
SAFE = 7

# Alarm priorities (IEC 60601-1-8 style); 0 means no alarm
PRIO_NONE = 0
PRIO_LOW = 1
PRIO_MEDIUM = 2
PRIO_HIGH = 3

# Alarm identities; the bit (1 << id) is used in the active/latched masks
AL_AIR = 1
AL_ACCESS_LOW = 2
AL_RETURN_HIGH = 3
AL_RETURN_LOW = 4
AL_PRE_HIGH = 5
AL_NO_FLOW = 6
AL_FLOW_LOW = 7
AL_CLOT = 8
AL_STASIS = 9
AL_EXCHANGE_DUE = 10
AL_THERAPY_COMPLETE = 11
AL_APTT_DUE = 12
AL_POWER_RESTORED = 13   # the board restarted mid-therapy (power cut, watchdog)
AL_SENSOR_LOSS = 14      # sensor samples missing (the sensor link is down)
AL_HOST_LINK_LOST = 15   # no frame from the host for link_timeout_s (boards on their own clock)
N_ALARMS = 16

# Event kinds carried in replies
EV_STATE = 1        # code=new state, a=old state, b=cause (command or alarm id)
EV_ALARM_ON = 2     # code=alarm id, a=priority, b=value that tripped it
EV_ALARM_OFF = 3    # code=alarm id
EV_ALARM_ACK = 4    # code=alarm id
EV_EXCHANGE_DUE = 5 # code=cartridge number, a=1 if asked for early, b=ticks of blood flow on it
EV_CARTRIDGE = 6    # code=new cartridge number
EV_HEPARIN = 7      # code=table row used, a=bolus in U, b=new rate in 0.1 U/h
EV_APTT = 8         # b=aPTT entered in 0.1 s
EV_BOOT = 9         # b=reset cause
EV_PRIMED = 10      # b=primed volume in mL
EV_AUDIO_PAUSE = 11 # b=pause length in ticks
EV_OVERRIDE = 12    # code=what was overridden (1 = aPTT not in range at start), b=last aPTT
EV_RESTORED = 13    # code=state before the restart, b=ticks of blood flow on the cartridge

# Operator commands (CMD frame: code, argument)
CMD_PRIME = 1
CMD_START = 2
CMD_PAUSE = 3
CMD_RESUME = 4
CMD_STOP = 5
CMD_SET_FLOW = 6        # arg: mL/min
CMD_APTT = 7            # arg: aPTT in 0.1 s
CMD_CONFIRM_EXCHANGE = 8
CMD_ACK_ALARMS = 9
CMD_AUDIO_PAUSE = 10
CMD_SET_WEIGHT = 11     # arg: 0.1 kg
CMD_HEPARIN_START = 12  # loading bolus and infusion, before blood flows
CMD_OVERRIDE_APTT = 13  # confirm starting blood flow with aPTT out of range
CMD_TEST_HANG = 14      # test mode only: the control task stops for arg ticks
CMD_REQUEST_EXCHANGE = 15  # end this cartridge early (clotted), from paused
CMD_TIME_SCALE = 16     # test mode only: run the board's own clock N times faster
CMD_TEST_RESET = 17     # test mode only: forget the therapy and restart (idle, complete or safe)
CMD_MAINTENANCE = 18    # a Pico in idle restarts to its REPL once, for mpremote (make flash)

# Sample flags (the fifth channel of a STEP sample)
FLAG_AIR = 0x0001
FLAG_MISSING = -32768   # bit 15: no sensor data reached the board this period

# Command results
OK = 0
E_STATE = 1      # not allowed in the current state
E_RANGE = 2      # argument out of range
E_UNKNOWN = 3    # unknown command code
E_CONDITION = 4  # refused while a condition persists (alarm, aPTT, weight)
E_TEST_ONLY = 5  # only allowed on a board in test mode
E_UNSUPPORTED = 6  # not served by this board (maintenance on the virtual board)

# Reset causes (BOOT notice)
RESET_POWER_ON = 0
RESET_WATCHDOG = 1
RESET_FAULT = 2      # an unexpected exception: outputs made safe, then reset
