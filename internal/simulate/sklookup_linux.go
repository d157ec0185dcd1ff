package simulate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Steering with BPF sk_lookup (Linux 5.9+, CAP_BPF and CAP_NET_ADMIN).
//
// Instead of one socket per device service, the fleet opens one socket per
// port and transport, bound to a single device address, and attaches a
// BPF_PROG_TYPE_SK_LOOKUP program to the network namespace. For every new
// TCP connection or UDP datagram the kernel runs the program before its own
// socket lookup; the program looks up (destination address, port, protocol)
// in a hash map of the fleet's services and, on a hit, assigns the shared
// socket from a sockmap. Addresses and ports the fleet does not serve fall
// through to the normal lookup (so other listeners are untouched and a
// device without the service refuses the connection as before). Accepted
// sockets keep the address the client dialled, so handlers find their
// device from the local address; UDP replies are sent with IP_PKTINFO from
// the dialled address. The program, maps and link are freed when the
// fleet closes its file descriptors (also when the process dies).

// steerKey is the hash map key: the IPv4 address as the kernel stores it
// (network byte order) and port | protocol<<16.
func steerKey(ip [4]byte, port uint16, proto uint8) [8]byte {
	var k [8]byte
	copy(k[:4], ip[:])
	binary.LittleEndian.PutUint32(k[4:], uint32(port)|uint32(proto)<<16)
	return k
}

// steering holds the BPF objects of a fleet.
type steering struct {
	hashFD, sockFD, progFD, linkFD int
}

func (s *steering) close() {
	for _, fd := range []int{s.linkFD, s.progFD, s.sockFD, s.hashFD} {
		if fd > 0 {
			unix.Close(fd)
		}
	}
}

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	runtime.KeepAlive(attr)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

func bpfMapCreate(typ, keySize, valueSize, maxEntries uint32) (int, error) {
	var attr [72]byte
	binary.LittleEndian.PutUint32(attr[0:], typ)
	binary.LittleEndian.PutUint32(attr[4:], keySize)
	binary.LittleEndian.PutUint32(attr[8:], valueSize)
	binary.LittleEndian.PutUint32(attr[12:], maxEntries)
	return bpfCall(unix.BPF_MAP_CREATE, unsafe.Pointer(&attr[0]), uintptr(len(attr)))
}

func bpfMapUpdate(fd int, key, value []byte) error {
	var attr [32]byte
	binary.LittleEndian.PutUint32(attr[0:], uint32(fd))
	binary.LittleEndian.PutUint64(attr[8:], uint64(uintptr(unsafe.Pointer(&key[0]))))
	binary.LittleEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&value[0]))))
	_, err := bpfCall(unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(&attr[0]), uintptr(len(attr)))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return err
}

// bpfMapUpdateBatch stores n keys and values with BPF_MAP_UPDATE_BATCH.
func bpfMapUpdateBatch(fd int, keys, values []byte, n int) error {
	if n == 0 {
		return nil
	}
	const cmdUpdateBatch = 26
	var attr [56]byte
	binary.LittleEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&keys[0]))))
	binary.LittleEndian.PutUint64(attr[24:], uint64(uintptr(unsafe.Pointer(&values[0]))))
	binary.LittleEndian.PutUint32(attr[32:], uint32(n))
	binary.LittleEndian.PutUint32(attr[36:], uint32(fd))
	_, err := bpfCall(cmdUpdateBatch, unsafe.Pointer(&attr[0]), uintptr(len(attr)))
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	if err == nil && binary.LittleEndian.Uint32(attr[32:]) != uint32(n) {
		return fmt.Errorf("batch update stored %d of %d", binary.LittleEndian.Uint32(attr[32:]), n)
	}
	return err
}

// bpfInsn encodes one eBPF instruction.
func bpfInsn(code, dst, src uint8, off int16, imm int32) []byte {
	b := make([]byte, 8)
	b[0] = code
	b[1] = dst | src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(off))
	binary.LittleEndian.PutUint32(b[4:], uint32(imm))
	return b
}

// eBPF opcodes and helpers used by the program.
const (
	opMovReg  = 0xbf // r_dst = r_src
	opMovImm  = 0xb7 // r_dst = imm
	opLdxW    = 0x61 // r_dst = *(u32 *)(r_src + off)
	opStxW    = 0x63 // *(u32 *)(r_dst + off) = r_src
	opLshImm  = 0x67
	opOrReg   = 0x4f
	opAddImm  = 0x07
	opLdImm64 = 0x18
	opJeqImm  = 0x15
	opCall    = 0x85
	opExit    = 0x95

	helperMapLookup = 1
	helperSkRelease = 86
	helperSkAssign  = 124

	// struct bpf_sk_lookup offsets.
	ctxProtocol = 12
	ctxLocalIP4 = 40
	ctxLocalPrt = 60
)

// skLookupProgram returns the steering program for the two maps.
func skLookupProgram(hashFD, sockFD int) []byte {
	var p []byte
	add := func(b []byte) { p = append(p, b...) }
	ldMap := func(dst uint8, fd int) {
		add(bpfInsn(opLdImm64, dst, unix.BPF_PSEUDO_MAP_FD, 0, int32(fd)))
		add(bpfInsn(0, 0, 0, 0, 0))
	}
	add(bpfInsn(opMovReg, 6, 1, 0, 0))             // r6 = ctx
	add(bpfInsn(opLdxW, 2, 6, ctxLocalIP4, 0))     // r2 = ctx->local_ip4
	add(bpfInsn(opStxW, 10, 2, -8, 0))             // key.ip = r2
	add(bpfInsn(opLdxW, 2, 6, ctxLocalPrt, 0))     // r2 = ctx->local_port
	add(bpfInsn(opLdxW, 3, 6, ctxProtocol, 0))     // r3 = ctx->protocol
	add(bpfInsn(opLshImm, 3, 0, 0, 16))            // r3 <<= 16
	add(bpfInsn(opOrReg, 2, 3, 0, 0))              // r2 |= r3
	add(bpfInsn(opStxW, 10, 2, -4, 0))             // key.portproto = r2
	ldMap(1, hashFD)                               // r1 = &hash
	add(bpfInsn(opMovReg, 2, 10, 0, 0))            // r2 = fp
	add(bpfInsn(opAddImm, 2, 0, 0, -8))            // r2 = &key
	add(bpfInsn(opCall, 0, 0, 0, helperMapLookup)) // r0 = lookup(hash, &key)
	add(bpfInsn(opJeqImm, 0, 0, 15, 0))            // if r0 == NULL goto pass
	add(bpfInsn(opLdxW, 2, 0, 0, 0))               // r2 = *(u32 *)r0 (socket index)
	add(bpfInsn(opStxW, 10, 2, -12, 0))            // idx = r2
	ldMap(1, sockFD)                               // r1 = &sockmap
	add(bpfInsn(opMovReg, 2, 10, 0, 0))            // r2 = fp
	add(bpfInsn(opAddImm, 2, 0, 0, -12))           // r2 = &idx
	add(bpfInsn(opCall, 0, 0, 0, helperMapLookup)) // r0 = sk or NULL
	add(bpfInsn(opJeqImm, 0, 0, 7, 0))             // if r0 == NULL goto pass
	add(bpfInsn(opMovReg, 7, 0, 0, 0))             // r7 = sk
	add(bpfInsn(opMovReg, 1, 6, 0, 0))             // r1 = ctx
	add(bpfInsn(opMovReg, 2, 7, 0, 0))             // r2 = sk
	add(bpfInsn(opMovImm, 3, 0, 0, 0))             // r3 = 0
	add(bpfInsn(opCall, 0, 0, 0, helperSkAssign))  // sk_assign(ctx, sk, 0)
	add(bpfInsn(opMovReg, 1, 7, 0, 0))             // r1 = sk
	add(bpfInsn(opCall, 0, 0, 0, helperSkRelease)) // sk_release(sk)
	// pass:
	add(bpfInsn(opMovImm, 0, 0, 0, 1)) // r0 = SK_PASS
	add(bpfInsn(opExit, 0, 0, 0, 0))
	return p
}

func bpfProgLoad(insns []byte) (int, error) {
	license := []byte("GPL\x00")
	logBuf := make([]byte, 64<<10)
	var attr [128]byte
	binary.LittleEndian.PutUint32(attr[0:], unix.BPF_PROG_TYPE_SK_LOOKUP)
	binary.LittleEndian.PutUint32(attr[4:], uint32(len(insns)/8))
	binary.LittleEndian.PutUint64(attr[8:], uint64(uintptr(unsafe.Pointer(&insns[0]))))
	binary.LittleEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&license[0]))))
	binary.LittleEndian.PutUint32(attr[24:], 1) // log_level
	binary.LittleEndian.PutUint32(attr[28:], uint32(len(logBuf)))
	binary.LittleEndian.PutUint64(attr[32:], uint64(uintptr(unsafe.Pointer(&logBuf[0]))))
	copy(attr[48:64], "iotwatch_steer")
	binary.LittleEndian.PutUint32(attr[68:], unix.BPF_SK_LOOKUP) // expected_attach_type
	fd, err := bpfCall(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr[0]), uintptr(len(attr)))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if err != nil {
		msg := strings.TrimRight(string(logBuf), "\x00")
		if len(msg) > 400 {
			msg = msg[len(msg)-400:]
		}
		return -1, fmt.Errorf("load sk_lookup program: %w: %s", err, msg)
	}
	return fd, nil
}

func bpfLinkCreate(progFD, netnsFD int) (int, error) {
	var attr [64]byte
	binary.LittleEndian.PutUint32(attr[0:], uint32(progFD))
	binary.LittleEndian.PutUint32(attr[4:], uint32(netnsFD))
	binary.LittleEndian.PutUint32(attr[8:], unix.BPF_SK_LOOKUP)
	return bpfCall(unix.BPF_LINK_CREATE, unsafe.Pointer(&attr[0]), uintptr(len(attr)))
}

// steerEntry maps one device service to the index of its shared socket.
type steerEntry struct {
	ip    [4]byte
	port  uint16
	proto uint8 // unix.IPPROTO_TCP or IPPROTO_UDP
	sock  uint32
}

// newSteering creates the maps and program, fills them and attaches the
// program to the current network namespace.
func newSteering(sockFDs []int, entries []steerEntry) (_ *steering, err error) {
	st := &steering{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if st.hashFD, err = bpfMapCreate(unix.BPF_MAP_TYPE_HASH, 8, 4, uint32(max(len(entries), 1))); err != nil {
		return nil, fmt.Errorf("create service map: %w", err)
	}
	if st.sockFD, err = bpfMapCreate(unix.BPF_MAP_TYPE_SOCKMAP, 4, 8, uint32(max(len(sockFDs), 1))); err != nil {
		return nil, fmt.Errorf("create socket map: %w", err)
	}
	for i, fd := range sockFDs {
		k := binary.LittleEndian.AppendUint32(nil, uint32(i))
		v := binary.LittleEndian.AppendUint64(nil, uint64(fd))
		if err := bpfMapUpdate(st.sockFD, k, v); err != nil {
			return nil, fmt.Errorf("add socket %d to sockmap: %w", i, err)
		}
	}
	keys := make([]byte, 0, 8*len(entries))
	vals := make([]byte, 0, 4*len(entries))
	for _, e := range entries {
		k := steerKey(e.ip, e.port, e.proto)
		keys = append(keys, k[:]...)
		vals = binary.LittleEndian.AppendUint32(vals, e.sock)
	}
	if err := bpfMapUpdateBatch(st.hashFD, keys, vals, len(entries)); err != nil {
		// Kernels before 5.6 lack batch updates: one element at a time.
		for i := range entries {
			if err := bpfMapUpdate(st.hashFD, keys[8*i:8*i+8], vals[4*i:4*i+4]); err != nil {
				return nil, fmt.Errorf("add service to map: %w", err)
			}
		}
	}
	if st.progFD, err = bpfProgLoad(skLookupProgram(st.hashFD, st.sockFD)); err != nil {
		return nil, err
	}
	ns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open netns: %w", err)
	}
	defer ns.Close()
	if st.linkFD, err = bpfLinkCreate(st.progFD, int(ns.Fd())); err != nil {
		return nil, fmt.Errorf("attach sk_lookup program: %w", err)
	}
	return st, nil
}

// errNoSteering marks failures that should fall back to per-device sockets.
var errNoSteering = errors.New("sk_lookup steering unavailable")
