import CLibFuzzer
import ClusterKit

/// libFuzzer target: byte 0 picks the chunk size, the rest is a peer-mesh byte stream.
/// SwiftPM links `main` to `<module>_main`; it hands the test function to libFuzzer's driver.
@_cdecl("FuzzPeerFrame_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        FuzzEntryPoints._peerFrames(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
