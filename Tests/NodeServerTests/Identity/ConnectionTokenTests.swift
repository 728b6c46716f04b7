import RocketWSTestKit
import Testing

@testable import NodeServer

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite("Connection tokens")
struct ConnectionTokenTests {
    let verifier = ConnectionTokenVerifier(secret: TestTokens.secret)

    @Test("a good token gives the user, the info as compact JSON and the channels")
    func good() async throws {
        let token = try await TestTokens.mint(user: "alice", info: ["name": "Alice"], channels: ["private-a"])
        let identity = try await verifier.verify(token)
        #expect(identity == ConnectionIdentity(user: "alice", info: #"{"name":"Alice"}"#, channels: ["private-a"]))
        let bare = try await verifier.verify(try await TestTokens.mint(user: "bob"))
        #expect(bare == ConnectionIdentity(user: "bob", info: "{}", channels: []))
    }

    @Test("a missing token is refused as missing")
    func missing() async {
        await #expect(throws: TokenRefusal.missing) { try await verifier.verify(nil) }
        await #expect(throws: TokenRefusal.missing) { try await verifier.verify("") }
    }

    @Test("malformed tokens are refused as malformed", arguments: ["abc", "a.b.c", "two.parts", "...."])
    func malformed(_ token: String) async {
        await #expect {
            try await verifier.verify(token)
        } throws: { error in
            if case TokenRefusal.malformed = error { return true }
            return false
        }
    }

    @Test("a token signed with another secret is refused as wrongly signed")
    func wronglySigned() async throws {
        let token = try await TestTokens.mint(user: "alice", secret: "another-secret-that-is-long-enough-0123")
        await #expect(throws: TokenRefusal.wronglySigned) { try await verifier.verify(token) }
        // A signature of the right secret over other claims.
        let good = try await TestTokens.mint(user: "alice").split(separator: ".")
        let other = try await TestTokens.mint(user: "mallory").split(separator: ".")
        await #expect(throws: TokenRefusal.wronglySigned) { try await verifier.verify("\(good[0]).\(other[1]).\(good[2])") }
    }

    @Test("an expired token is refused; within the 30 s clock skew it is still good")
    func expiry() async throws {
        let expired = try await TestTokens.mint(user: "alice", expiresIn: -31)
        await #expect(throws: TokenRefusal.expired) { try await verifier.verify(expired) }
        let withinSkew = try await TestTokens.mint(user: "alice", expiresIn: -25)
        #expect(try await verifier.verify(withinSkew).user == "alice")
        // The same token one minute later (a verifier with its clock ahead).
        let later = ConnectionTokenVerifier(secret: TestTokens.secret) { Date().timeIntervalSince1970 + 60 }
        await #expect(throws: TokenRefusal.expired) { try await later.verify(withinSkew) }
    }

    @Test("claims of the wrong shape are malformed: no sub, info over 1 KiB")
    func claimShapes() async throws {
        let big = try await TestTokens.mint(user: "alice", info: ["bio": String(repeating: "x", count: 1100)])
        await #expect {
            try await verifier.verify(big)
        } throws: { error in
            if case TokenRefusal.malformed = error { return true }
            return false
        }
        let empty = try await TestTokens.mint(user: "")
        await #expect {
            try await verifier.verify(empty)
        } throws: { error in
            if case TokenRefusal.malformed = error { return true }
            return false
        }
    }
}
