package config

import "os"

// NVIDIAGPUs is the folder where the NVIDIA driver lists the machine's GPUs, a folder each.
var NVIDIAGPUs = "/proc/driver/nvidia/gpus"

// DetectGPUs counts the GPUs the NVIDIA driver lists (0 without the driver): how many the
// model versions go round by default (number_of_gpu), as TorchServe counts them with
// nvidia-smi.
func DetectGPUs() int {
	entries, err := os.ReadDir(NVIDIAGPUs)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	return n
}
