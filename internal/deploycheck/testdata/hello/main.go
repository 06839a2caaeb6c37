// Command hello is a binary for lambdatest's own tests to inspect.
package main

import "fmt"

func main() { fmt.Println("hello") }
