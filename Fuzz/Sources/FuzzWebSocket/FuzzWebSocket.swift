import CLibFuzzer
import NIOCore
import NIOEmbedded
import NodeServer

/// libFuzzer target: the bytes a client sends after the upgrade, into a session on an EmbeddedChannel.
/// SwiftPM links `main` to `<module>_main`; it hands the test function to libFuzzer's driver.
@_cdecl("FuzzWebSocket_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
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
}
