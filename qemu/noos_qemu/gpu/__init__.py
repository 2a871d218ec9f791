"""The GPU profile: pass a host GPU's IOMMU group through to the guest (VFIO).

Before QEMU starts, the host is checked (`checks`) and, when asked, the group's
functions are moved to vfio-pci and back afterwards (`binding`); `devices`
turns the group into QEMU arguments. Everything reads and writes under a root
path, so the unit tests run it against recorded sysfs trees."""
