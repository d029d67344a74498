package main

import (
	"bytes"
	"fmt"
	"os"
	"reflect"

	"github.com/qatgo/qatgo/train"
)

func load(path string) *train.Checkpoint {
	c, err := train.LoadCheckpoint(path)
	if err != nil {
		panic(err)
	}
	c.Seconds = 0
	for i := range c.Metrics {
		c.Metrics[i].Seconds = 0
	}
	return c
}

func enc(c *train.Checkpoint) []byte {
	var b bytes.Buffer
	if err := train.EncodeCheckpoint(&b, c); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func main() {
	x, y := load(os.Args[1]), load(os.Args[2])
	a, b := enc(x), enc(y)
	fmt.Printf("%d and %d bytes after zeroing Seconds: identical %v\n", len(a), len(b), bytes.Equal(a, b))
	vx, vy := reflect.ValueOf(*x), reflect.ValueOf(*y)
	for i := 0; i < vx.NumField(); i++ {
		if !reflect.DeepEqual(vx.Field(i).Interface(), vy.Field(i).Interface()) {
			fmt.Printf("field %s differs: %v vs %v\n", vx.Type().Field(i).Name, vx.Field(i).Interface(), vy.Field(i).Interface())
		}
	}
}
