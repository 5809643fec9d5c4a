// Package config owns every setting of ts: config.properties keys, TS_* environment
// variables, command-line flags and their defaults. Other packages receive values from here
// and never read the environment themselves.
package config
