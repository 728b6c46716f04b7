#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed). For the few
/// listeners whose port must be known before the process starts (peer ports that seeds are dialed on); every
/// other listener binds port 0 and reports the port it got.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public func freePort() -> Int {
    freePorts(1)[0]
}

/// `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (all held open while they are picked,
/// so none is given twice, then released).
public func freePorts(_ count: Int) -> [Int] {
    var sockets: [Int32] = []
    defer { sockets.forEach { close($0) } }
    return (0..<count).map { _ in
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        precondition(fd >= 0, "socket() failed: \(errno)")
        sockets.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        precondition(bound, "bind() failed: \(errno)")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
