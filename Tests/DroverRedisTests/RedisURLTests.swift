import DroverRedis
import Testing

@Suite struct RedisURLTests {
    @Test func parsesHostPortAndDatabase() throws {
        let url = try RedisURL("redis://example.org:6380/3")
        #expect(url.endpoint == .tcp(host: "example.org", port: 6380))
        #expect(url.database == 3)
        #expect(url.user == nil && url.password == nil)
    }

    @Test func defaultsPortAndDatabase() throws {
        let url = try RedisURL("redis://localhost")
        #expect(url.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(url.database == 0)
    }

    @Test func parsesUserPasswordWithEscapes() throws {
        let url = try RedisURL("redis://app:p%40ss@10.0.0.1:7000/0")
        #expect(url.user == "app")
        #expect(url.password == "p@ss")
        #expect(url.description == "redis://app:***@10.0.0.1:7000")
    }

    @Test func passwordOnly() throws {
        #expect(try RedisURL("redis://:secret@h").password == "secret")
        #expect(try RedisURL("redis://:secret@h").user == nil)
    }

    @Test func ipv6() throws {
        #expect(try RedisURL("redis://[::1]:6390").endpoint == .tcp(host: "::1", port: 6390))
    }

    @Test func unixSocket() throws {
        let url = try RedisURL("unix:///run/redis/redis.sock?db=2")
        #expect(url.endpoint == .unixSocket(path: "/run/redis/redis.sock"))
        #expect(url.database == 2)
    }

    @Test func sentinels() throws {
        let url = try RedisURL("redis+sentinel://app:p%40ss@s1:26380,s2,[::1]:26381/mymaster/2")
        #expect(
            url.endpoint
                == .sentinel(
                    nodes: [.init(host: "s1", port: 26380), .init(host: "s2", port: 26379), .init(host: "::1", port: 26381)],
                    primary: "mymaster"))
        #expect(url.user == "app" && url.password == "p@ss" && url.database == 2 && url.tls == nil)
        #expect(url.description == "redis+sentinel://app:***@s1:26380,s2:26379,[::1]:26381/mymaster/2")
        #expect(
            try RedisURL("redis+sentinel://127.0.0.1:26379/m").endpoint
                == .sentinel(nodes: [.init(host: "127.0.0.1", port: 26379)], primary: "m"))
    }

    @Test func clusters() throws {
        let url = try RedisURL("redis+cluster://:secret@h1:7000,h2,[::1]:7002")
        #expect(
            url.endpoint == .cluster(nodes: [.init(host: "h1", port: 7000), .init(host: "h2", port: 6379), .init(host: "::1", port: 7002)]))
        #expect(url.password == "secret" && url.user == nil && url.database == 0)
        #expect(url.description == "redis+cluster://:***@h1:7000,h2:6379,[::1]:7002")
        #expect(try RedisURL("redis+cluster://h1:7000/").endpoint == .cluster(nodes: [.init(host: "h1", port: 7000)]))
        let tls = try RedisURL("rediss+cluster://u:p@h1:7000,h2:7001?ca=/c.pem&cert=/w.pem&key=/w.key")
        #expect(tls.endpoint == .cluster(nodes: [.init(host: "h1", port: 7000), .init(host: "h2", port: 7001)]))
        #expect(tls.tls?.certificateAuthority == "/c.pem" && tls.tls?.certificate == "/w.pem" && tls.tls?.key == "/w.key")
        #expect(tls.description == "rediss+cluster://u:***@h1:7000,h2:7001")
        #expect(try RedisURL("rediss+cluster://h1").tls != nil)
    }

    @Test(arguments: [
        "http://localhost", "redis://", "redis://host:port", "redis://host:70000", "redis://host/x", "unix://relative.sock",
        "unix:///a.sock?database=1", "redis+sentinel://s1:26379", "redis+sentinel://s1:26379/", "redis+sentinel:///m",
        "redis+sentinel://s1:x/m", "redis+sentinel://s1/m/x", "redis+sentinel://s1/m?ca=x", "redis+sentinel://s1,,s2/m",
        // A cluster has database 0 only, and at least one seed.
        "redis+cluster://", "redis+cluster://h1:7000/1", "redis+cluster://h1,,h2", "redis+cluster://h1:x", "redis+cluster://h1?ca=x",
        "rediss+cluster://h1?cert=/w.pem", "rediss+cluster://h1?x=1",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: RedisError.self) { try RedisURL(text) }
    }

    @Test func errorsNeverShowThePassword() {
        do {
            _ = try RedisURL("redis://u:topsecret@host:notaport")
            Issue.record("expected an error")
        } catch {
            #expect(!"\(error)".contains("topsecret"))
        }
    }
}
