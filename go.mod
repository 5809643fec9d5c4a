module github.com/tsserve/ts

go 1.26.0

require (
	github.com/x448/float16 v0.8.4
	github.com/yalue/onnxruntime_go v1.27.0
)

replace github.com/yalue/onnxruntime_go => ./third_party/onnxruntime_go
