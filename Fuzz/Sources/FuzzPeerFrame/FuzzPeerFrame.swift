import ClusterKit

/// libFuzzer entry: byte 0 picks the chunk size, the rest is a peer-mesh byte stream.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPeerFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntryPoints._peerFrames(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
