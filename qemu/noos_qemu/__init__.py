"""Boot the noos image under QEMU: the launcher (`python -m noos_qemu`) and the
end-to-end test driver (`Machine`), in the style of NixOS's test driver."""

from noos_qemu.image import BootImage
from noos_qemu.machine import Machine, MachineError

__all__ = ["BootImage", "Machine", "MachineError"]
