import DroverRedis
import Testing

/// The key → slot mapping and which key of a command picks its slot: what sends each command
/// to the right Redis Cluster node. (The cluster suites check the same against real servers.)
@Suite struct ClusterSlotTests {
    @Test func slotsFollowTheClusterSpecification() {
        // CRC16/XMODEM's check value, 0x31C3, modulo 16,384.
        #expect(ClusterSlot.of("123456789".utf8) == 12739)
        // Only the text between the first { and the next } counts, when it is not empty.
        #expect(ClusterSlot.of("{user1000}.following".utf8) == ClusterSlot.of("user1000".utf8))
        #expect(ClusterSlot.of("{user1000}.followers".utf8) == ClusterSlot.of("user1000".utf8))
        #expect(ClusterSlot.of("foo{}{bar}".utf8) != ClusterSlot.of("bar".utf8))
        #expect(ClusterSlot.of("foo{{bar}}zap".utf8) == ClusterSlot.of("{bar".utf8))
        #expect(ClusterSlot.of("foo{bar}{zap}".utf8) == ClusterSlot.of("bar".utf8))
        // Every key of a queue shares its slot; the keys of no queue share {@}'s.
        #expect(ClusterSlot.of("drover:{emails}:queued".utf8) == ClusterSlot.of("drover:{emails}:job:01J".utf8))
        #expect(ClusterSlot.of("drover:{@}:workers".utf8) == ClusterSlot.of("drover:{@}:worker:w1".utf8))
    }

    @Test func aCommandRunsInTheSlotOfItsKey() {
        #expect(RedisCommand("HGET", "drover:{a}:job:1", "state").slot == ClusterSlot.of("a".utf8))
        // FCALL name numkeys key…: the first key; none when it names no key.
        #expect(RedisCommand("FCALL", "f", 2, "drover:{b}:", "drover:{b}:active:w").slot == ClusterSlot.of("b".utf8))
        #expect(RedisCommand("FCALL", "f", 0, "arg").slot == nil)
        #expect(RedisCommand("MEMORY", "USAGE", "drover:{c}:stats").slot == ClusterSlot.of("c".utf8))
        for keyless in [RedisCommand("TIME"), RedisCommand("PUBLISH", "drover:due", "1"), RedisCommand("CLIENT", "ID")] {
            #expect(keyless.slot == nil, "\(keyless.name)")
        }
        // Pinned: a WAIT after a write, a CLIENT ID before a blocking fetch.
        let write = RedisCommand("FCALL", "f", 1, "drover:{d}:")
        #expect(RedisCommand("WAIT", 1, 100).pinned(like: write).slot == ClusterSlot.of("d".utf8))
        #expect(RedisCommand("CLIENT", "ID").pinned(toSlotOf: "drover:{e}:queued").slot == ClusterSlot.of("e".utf8))
        // Pinning does not change what is sent.
        #expect(RedisCommand("TIME").pinned(toSlotOf: "x").bytes == RedisCommand("TIME").bytes)
    }
}
