package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: lmtcp serve PORT... | lmtcp connect IP PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		for _, p := range os.Args[2:] {
			l, err := net.Listen("tcp", ":"+p)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			go serve(l)
		}
		fmt.Println("ready")
		select {}
	case "connect":
		if len(os.Args) != 4 {
			os.Exit(2)
		}
		if err := connect(net.JoinHostPort(os.Args[2], os.Args[3])); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("ok")
	default:
		os.Exit(2)
	}
}

func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil {
				c.Write([]byte(line))
			}
		}()
	}
}

func connect(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	// A payload larger than one segment, to catch MTU and checksum trouble.
	msg := make([]byte, 4000)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	msg[len(msg)-1] = '\n'
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != string(msg) {
		return fmt.Errorf("echo differs")
	}
	return nil
}
