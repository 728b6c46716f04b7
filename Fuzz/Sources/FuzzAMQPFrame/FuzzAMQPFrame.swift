import AMQP
import CLibFuzzer

/// libFuzzer target: byte 0 picks the chunk size, the rest is a broker's AMQP 0-9-1 byte stream.
/// SwiftPM links `main` to `<module>_main`; it hands the test function to libFuzzer's driver.
@_cdecl("FuzzAMQPFrame_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        AMQPFuzzEntryPoints._frames(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
