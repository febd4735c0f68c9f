package ofctl

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the monitor's process when loomd
// dies, even by kill -9 (then nothing cancels its context). Otherwise it
// would linger until its next write into the dead pipe.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
