import Foundation
import RocketWSTestKit

/// Debian's nginx (`/usr/sbin/nginx`, package nginx-light) in the foreground, configured from
/// `deploy/compose/nginx.conf.template` rendered by `deploy/compose/render-nginx-conf.sh` for loopback upstreams:
/// its own prefix, pid file, error log and temp directories under a fresh temporary directory, both listeners on
/// free 127.0.0.1 ports. Stopped by its master PID.
final class NginxProcess: @unchecked Sendable {  // fields are written before `start` returns
    let process: Process
    let directory: String
    let wsPort: Int
    let msPort: Int

    /// The repository root (four levels above this file).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `NGINX`, else `nginx` on PATH, else `/usr/sbin/nginx` (Debian's place, not on a user's PATH); nil when absent.
    static var binary: String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["NGINX"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        return path.map { $0 + "/nginx" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Renders the config for `wsUpstreams` / `msUpstreams` (`HOST:PORT` each) and starts nginx; returns once both
    /// listeners accept connections.
    static func start(wsUpstreams: [String], msUpstreams: [String]) async throws -> NginxProcess {
        guard let binary else {
            throw NodeProcessError(message: "nginx not found: apt-get install nginx-light (make setup), or set NGINX=/path/to/nginx")
        }
        var lastError: (any Error)?
        for _ in 0..<3 {  // a free port can be taken between choosing it and nginx binding it: try fresh ones
            let ports = freePorts(2)
            do {
                return try await NginxProcess(binary: binary, wsPort: ports[0], msPort: ports[1], wsUpstreams: wsUpstreams, msUpstreams: msUpstreams)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? NodeProcessError(message: "nginx did not start")
    }

    private init(binary: String, wsPort: Int, msPort: Int, wsUpstreams: [String], msUpstreams: [String]) async throws {
        self.wsPort = wsPort
        self.msPort = msPort
        directory = NSTemporaryDirectory() + "rocketws-nginx-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)

        try await CommandRun.run("/bin/sh", [
            Self.repositoryRoot.appendingPathComponent("deploy/compose/render-nginx-conf.sh").path,
            "--ws-listen", "127.0.0.1:\(wsPort)", "--ms-listen", "127.0.0.1:\(msPort)",
            "--ws-upstreams", wsUpstreams.joined(separator: ","), "--ms-upstreams", msUpstreams.joined(separator: ","),
            "--temp-dir", directory + "/tmp", "-o", directory + "/nginx.conf",
        ]).succeeded()

        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log",
            "-g", "daemon off; pid \(directory)/nginx.pid; error_log \(directory)/error.log info;",
        ]
        _ = FileManager.default.createFile(atPath: directory + "/output.log", contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/output.log"))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? output.close()

        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if canConnect(port: wsPort), canConnect(port: msPort) { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = errorLog
        stop()
        throw NodeProcessError(message: "nginx did not start on 127.0.0.1:\(wsPort)/\(msPort):\n\(log)")
    }

    /// The master process (nginx runs in the foreground, so it is the process this object started).
    var masterPID: Int32 { process.processIdentifier }

    /// nginx's error log (and anything it printed).
    var errorLog: String {
        let error = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
        let output = (try? String(contentsOfFile: directory + "/output.log", encoding: .utf8)) ?? ""
        return error + output.split(separator: "\n").filter { !$0.contains("HTTP/1.1\"") }.joined(separator: "\n")
    }

    /// The worker processes, from /proc (children of the master).
    var workerPIDs: [Int32] {
        let pid = masterPID
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Fast shutdown of the master (SIGTERM), which stops its workers; if it has not exited in 5 s, SIGKILL to the
    /// master and then to each worker it had, by PID.
    func stop() {
        guard process.isRunning else { return }
        let workers = workerPIDs
        kill(masterPID, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(masterPID, SIGKILL)
            process.waitUntilExit()
        }
        for worker in workers where kill(worker, 0) == 0 {
            // Still ours only if it is an nginx worker whose parent was our master.
            let stat = (try? String(contentsOfFile: "/proc/\(worker)/stat", encoding: .utf8)) ?? ""
            if stat.contains("(nginx)") { kill(worker, SIGKILL) }
        }
    }

    deinit {
        stop()
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
