import NodeServer

/// libFuzzer entry: one JSON-RPC body (a WebSocket text message or a MessagesSource POST body).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONRPC(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntryPoints._jsonRPC(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
