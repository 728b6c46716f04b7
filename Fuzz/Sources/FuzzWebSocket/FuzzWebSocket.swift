import NIOCore
import NIOEmbedded
import NodeServer

/// libFuzzer entry: the bytes a client sends after the upgrade, into a session on an EmbeddedChannel.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocket(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let channel = EmbeddedChannel()
    do {
        try FuzzEntryPoints._webSocketRequestPath(UnsafeRawBufferPointer(start: data, count: size), on: channel)
    } catch {
        fatalError("pipeline setup failed: \(error)")
    }
    channel.embeddedEventLoop.run()
    channel.embeddedEventLoop.advanceTime(by: .seconds(5))
    _ = try? channel.finish()
    return 0
}
