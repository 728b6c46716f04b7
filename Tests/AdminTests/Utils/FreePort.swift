import NIOCore
import NIOPosix

enum FreePort {
    /// A loopback TCP port that was free a moment ago (bound to port 0, then released).
    static func find() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}
