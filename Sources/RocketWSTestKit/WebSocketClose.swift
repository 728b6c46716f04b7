import NIOCore
import NIOWebSocket
import RocketWSClient

/// The close code the server sent `client` (e.g. 1001 at a node's shutdown), waiting up to `timeout` for it;
/// pushed messages before it are skipped. Nil when the connection ended without a close frame or nothing came.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public func closeCode(of client: WebSocketClient, timeout: Duration = .seconds(10)) async -> Int? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        guard let event = await client.nextEvent(timeout: deadline - ContinuousClock.now) else { return nil }
        if case .close(let code, _) = event {
            guard let code else { return nil }
            var buffer = ByteBuffer()
            buffer.write(webSocketErrorCode: code)
            return buffer.readInteger(as: UInt16.self).map(Int.init)
        }
    }
    return nil
}
