import NIOCore
import NIOWebSocket
import RocketWSClient

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

/// The close code the server sent, waiting for it (pushed messages before it are skipped).
func closeCode(of client: WebSocketClient, timeout: Duration = .seconds(10)) async -> Int? {
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

/// The value of an unlabelled Prometheus sample, e.g. `rocketws_messages_out_total`.
func metric(_ name: String, in text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}
