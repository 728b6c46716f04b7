import CLibFuzzer
import NodeServer

/// libFuzzer target: one JSON-RPC body (a WebSocket text message or a MessagesSource POST body).
/// SwiftPM links `main` to `<module>_main`; it hands the test function to libFuzzer's driver.
@_cdecl("FuzzJSONRPC_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        FuzzEntryPoints._jsonRPC(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
