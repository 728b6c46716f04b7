import Testing

@testable import NodeServer

@Suite struct HostPortTests {
    @Test func acceptedForms() {
        #expect(HostPort("0.0.0.0:58000") == HostPort(host: "0.0.0.0", port: 58000))
        #expect(HostPort(":59999") == HostPort(host: "0.0.0.0", port: 59999))
        #expect(HostPort("[::1]:80") == HostPort(host: "::1", port: 80))
        #expect(HostPort("node1:59998") == HostPort(host: "node1", port: 59998))
        #expect(HostPort("[::1]:80")?.description == "[::1]:80")
    }

    @Test(arguments: ["58000", "host:", "host:99999", "::1:80", "[::1]80", "h:-1"])
    func refusedForms(text: String) {
        #expect(HostPort(text) == nil)
    }
}

@Suite struct UTF8ValidationTests {
    @Test func validText() {
        #expect(UTF8Validation.isValid(Array("hello, κόσμε 😀 and a long ascii run of text".utf8)))
        #expect(UTF8Validation.isValid([UInt8]()))
    }

    @Test(arguments: [
        [0xC0, 0xAF],  // overlong
        [0xED, 0xA0, 0x80],  // surrogate
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xCE, 0xBA, 0xE1],  // truncated
        [0xFF],
        [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x80],  // stray continuation after the fast path
    ] as [[UInt8]])
    func invalidText(bytes: [UInt8]) {
        #expect(!UTF8Validation.isValid(bytes))
    }
}
