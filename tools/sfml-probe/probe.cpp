// sfml-probe: a tiny SAR-like ghost client built on the real SFML network library.
// Written from scratch for testing the ghosting server; it speaks the protocol described in
// the shared protocol reference (PROTOCOL.md) using sf::Packet for every field, like SAR does.
//
// Every event is printed as one line: "<seconds> <EVENT> key=value ..." so scripts can grep it.
#include <SFML/Config.hpp>
#include <SFML/Network.hpp>
#include <SFML/System.hpp>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

enum Header : sf::Uint8 {
    NONE = 0, PING = 1, CONNECT = 2, DISCONNECT = 3, STOP_SERVER = 4, MAP_CHANGE = 5,
    HEART_BEAT = 6, MESSAGE = 7, COUNTDOWN = 8, UPDATE = 9, SPEEDRUN_FINISH = 10,
    MODEL_CHANGE = 11, COLOR_CHANGE = 12, TAUNT = 13, LOCATOR = 14, VOICE = 15,
};

struct Ghost {  // DataGhost: Vector position, QAngle view angle, 1 byte (offset | grounded<<7)
    float pos[3] = {0, 0, 0};
    float ang[3] = {0, 0, 0};
    sf::Uint8 flags = 0;
};

sf::Packet& operator<<(sf::Packet& p, const Ghost& g) {
    return p << g.pos[0] << g.pos[1] << g.pos[2] << g.ang[0] << g.ang[1] << g.ang[2] << g.flags;
}
sf::Packet& operator>>(sf::Packet& p, Ghost& g) {
    return p >> g.pos[0] >> g.pos[1] >> g.pos[2] >> g.ang[0] >> g.ang[1] >> g.ang[2] >> g.flags;
}

struct Options {
    std::string host = "127.0.0.1";
    unsigned short port = 53000;
    std::string name = "probe";
    std::string model = "models/props/food_can/food_can_open.mdl";
    std::string map = "sp_a1_intro1";
    bool spectator = false;
    bool tcpOnly = false;
    bool nan = false;           // send NaN DataGhost, like SAR without a player entity
    bool noHeartbeat = false;   // do not answer TCP heartbeats
    bool abrupt = false;        // close without sending DISCONNECT
    bool bulkVerbose = false;   // one line per bulk update instead of one per second
    bool hex = false;           // hex dump of the first packet of each header
    bool extras = false;        // at say-at + 1 s: PING, STOP_SERVER, model/color change, finish, taunt, locator
    std::vector<std::string> says;
    double sayAt = 2.0;
    std::string changeMap;
    double changeAt = 3.0;
    double seconds = 10.0;
    float baseX = 100.0f;
    sf::Uint8 r = 255, g = 128, b = 0;
};

sf::Clock gClock;

void line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void line(const char* fmt, ...) {
    std::printf("%8.3f ", gClock.getElapsedTime().asSeconds());
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::printf("\n");
    std::fflush(stdout);
}

std::string hexOf(const void* data, std::size_t size) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    const unsigned char* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; i++) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

std::string ghostText(const Ghost& g) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "pos=%.2f,%.2f,%.2f ang=%.2f,%.2f,%.2f flags=%u", g.pos[0], g.pos[1], g.pos[2],
                  g.ang[0], g.ang[1], g.ang[2], g.flags);
    return buf;
}

// Checks that a packet was read completely and exactly.
void checkEnd(sf::Packet& p, const char* what) {
    if (!p) {
        line("MALFORMED packet=%s (read past the end) size=%zu hex=%s", what, p.getDataSize(),
             hexOf(p.getData(), p.getDataSize()).c_str());
    } else if (!p.endOfPacket()) {
        line("TRAILING packet=%s size=%zu hex=%s", what, p.getDataSize(), hexOf(p.getData(), p.getDataSize()).c_str());
    }
}

// --- self test: build vectors.json packets with sf::Packet and compare ---------------------
int selfTest() {
    int failures = 0;
    auto expect = [&](const char* name, sf::Packet& p, const char* hex) {
        std::string got = hexOf(p.getData(), p.getDataSize());
        bool ok = got == hex;
        if (!ok) failures++;
        std::printf("SELFTEST %s %s%s%s\n", ok ? "ok" : "MISMATCH", name, ok ? "" : " got=", ok ? "" : got.c_str());
    };
    Ghost g;
    g.pos[0] = -1234.5f; g.pos[1] = 256.25f; g.pos[2] = 64.0f;
    g.ang[0] = 10.0f; g.ang[1] = -90.5f; g.ang[2] = 0.0f; g.flags = 0xc0;
    {
        sf::Packet p;
        p << sf::Uint8(UPDATE) << sf::Uint32(3) << g;
        expect("update", p, "090000000300509ac40020804300008042000020410000b5c200000000c0");
    }
    {
        sf::Packet p;
        Ghost n;
        float q = std::numeric_limits<float>::quiet_NaN();
        for (int i = 0; i < 3; i++) n.pos[i] = n.ang[i] = q;
        p << sf::Uint8(UPDATE) << sf::Uint32(3) << n;
        expect("update_invalid", p, "09000000030000c07f0000c07f0000c07f0000c07f0000c07f0000c07f00");
    }
    {
        sf::Packet p;
        p << sf::Uint8(LOCATOR) << sf::Uint32(3) << 100.0f << -200.0f << 32.0f << 0.0f << 0.0f << 1.0f;
        expect("locator", p, "0e000000030000c842000048c30000004200000000000000000000803f");
    }
    {
        sf::Packet p;
        p << sf::Uint8(CONNECT) << sf::Uint16(50123) << std::string("Player") << Ghost()
          << std::string("models/props/food_can/food_can_open.mdl") << std::string("sp_a1_intro1") << false
          << sf::Uint8(255) << sf::Uint8(128) << sf::Uint8(0) << false;
        expect("connect_request", p,
               "02c3cb00000006506c6179657200000000000000000000000000000000000000000000000000000000276d6f64656c732f70726f70"
               "732f666f6f645f63616e2f666f6f645f63616e5f6f70656e2e6d646c0000000c73705f61315f696e74726f3100ff800000");
    }
    {
        sf::Packet p;
        p << sf::Uint8(COUNTDOWN) << sf::Uint32(3) << sf::Uint8(1);
        expect("countdown_confirm", p, "080000000301");
    }
    {
        sf::Packet p;
        p << sf::Uint8(HEART_BEAT) << sf::Uint32(3) << sf::Uint32(0x1badb002);
        expect("heartbeat_tcp", p, "06000000031badb002");
    }
    {
        // How does this SFML encode a float? 1.0f is 0x3f800000.
        sf::Packet p;
        p << 1.0f;
        std::printf("SELFTEST float 1.0f -> %s (%s)\n", hexOf(p.getData(), p.getDataSize()).c_str(),
                    hexOf(p.getData(), p.getDataSize()) == "0000803f" ? "little-endian, raw copy" : "NOT little-endian");
        sf::Uint32 u = 0x01020304;
        sf::Packet q;
        q << u;
        std::printf("SELFTEST u32 0x01020304 -> %s\n", hexOf(q.getData(), q.getDataSize()).c_str());
    }
    std::printf("SELFTEST sfml=%d.%d.%d failures=%d\n", SFML_VERSION_MAJOR, SFML_VERSION_MINOR, SFML_VERSION_PATCH,
                failures);
    return failures == 0 ? 0 : 1;
}

bool parseArgs(int argc, char** argv, Options& o, bool& wantSelfTest) {
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "missing value for %s\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--host") o.host = next();
        else if (a == "--port") o.port = static_cast<unsigned short>(std::atoi(next()));
        else if (a == "--name") o.name = next();
        else if (a == "--model") o.model = next();
        else if (a == "--map") o.map = next();
        else if (a == "--spectator") o.spectator = true;
        else if (a == "--tcp-only") o.tcpOnly = true;
        else if (a == "--nan") o.nan = true;
        else if (a == "--no-heartbeat") o.noHeartbeat = true;
        else if (a == "--abrupt") o.abrupt = true;
        else if (a == "--bulk-verbose") o.bulkVerbose = true;
        else if (a == "--hex") o.hex = true;
        else if (a == "--extras") o.extras = true;
        else if (a == "--say") o.says.push_back(next());
        else if (a == "--say-at") o.sayAt = std::atof(next());
        else if (a == "--change-map") o.changeMap = next();
        else if (a == "--change-at") o.changeAt = std::atof(next());
        else if (a == "--seconds") o.seconds = std::atof(next());
        else if (a == "--x") o.baseX = static_cast<float>(std::atof(next()));
        else if (a == "--color") {
            unsigned r, g, b;
            if (std::sscanf(next(), "%u,%u,%u", &r, &g, &b) != 3) return false;
            o.r = r; o.g = g; o.b = b;
        } else if (a == "--selftest") wantSelfTest = true;
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return false;
        }
    }
    return true;
}

class Probe {
public:
    explicit Probe(const Options& o) : opt(o), server(o.host) {}

    int run() {
        if (tcp.connect(server, opt.port, sf::seconds(5)) != sf::Socket::Done) {
            line("ERROR tcp connect failed");
            return 1;
        }
        if (udp.bind(sf::Socket::AnyPort) != sf::Socket::Done) {
            line("ERROR udp bind failed");
            return 1;
        }
        line("TCP_CONNECTED local_tcp=%u udp_port=%u", tcp.getLocalPort(), udp.getLocalPort());

        sf::Packet req;
        req << sf::Uint8(CONNECT) << sf::Uint16(udp.getLocalPort()) << opt.name << currentGhost(0) << opt.model
            << opt.map << opt.tcpOnly << opt.r << opt.g << opt.b << opt.spectator;
        if (tcp.send(req) != sf::Socket::Done) {
            line("ERROR sending connect request");
            return 1;
        }

        // Like SAR: wait up to 30 s for the header-less confirm.
        sf::SocketSelector waitConfirm;
        waitConfirm.add(tcp);
        if (!waitConfirm.wait(sf::seconds(30))) {
            line("ERROR no confirm within 30 s");
            return 1;
        }
        sf::Packet confirm;
        if (tcp.receive(confirm) != sf::Socket::Done) {
            line("ERROR confirm receive failed (connection closed?)");
            return 1;
        }
        sf::Uint32 count = 0;
        confirm >> id >> count;
        line("CONFIRM id=%u count=%u size=%zu", id, count, confirm.getDataSize());
        known.insert(id);
        if (opt.hex) line("HEX confirm %s", hexOf(confirm.getData(), confirm.getDataSize()).c_str());
        for (sf::Uint32 i = 0; i < count && confirm; i++) readEntity(confirm, "GHOST");
        checkEnd(confirm, "confirm");

        selector.add(tcp);
        if (!opt.tcpOnly) selector.add(udp);

        sf::Time lastUpdate = sf::Time::Zero;
        sf::Time lastBulkLine = sf::Time::Zero;
        bool said = false, changed = false, extrasSent = false;
        sf::Uint32 updates = 0;
        while (gClock.getElapsedTime().asSeconds() < opt.seconds && connected) {
            sf::Time now = gClock.getElapsedTime();
            if (now - lastUpdate >= sf::milliseconds(50)) {
                lastUpdate = now;
                sf::Packet up;
                up << sf::Uint8(UPDATE) << id << currentGhost(now.asSeconds());
                sendData(up);
                updates++;
            }
            if (!said && now.asSeconds() >= opt.sayAt) {
                said = true;
                for (const std::string& text : opt.says) {
                    sf::Packet m;
                    m << sf::Uint8(MESSAGE) << id << text;
                    tcp.send(m);
                    line("SENT_MESSAGE text=%s", text.c_str());
                }
            }
            if (!changed && !opt.changeMap.empty() && now.asSeconds() >= opt.changeAt) {
                changed = true;
                sf::Packet m;
                m << sf::Uint8(MAP_CHANGE) << id << opt.changeMap << sf::Uint32(0xffffffff) << sf::Uint32(0xffffffff);
                tcp.send(m);
                line("SENT_MAP_CHANGE map=%s", opt.changeMap.c_str());
            }
            if (opt.extras && !extrasSent && now.asSeconds() >= opt.sayAt + 1) {
                extrasSent = true;
                sendExtras();
            }
            if (now - lastBulkLine >= sf::seconds(1)) {
                lastBulkLine = now;
                printBulkSummary();
            }
            if (selector.wait(sf::milliseconds(10))) {
                if (selector.isReady(tcp)) receiveTcp();
                if (!opt.tcpOnly && selector.isReady(udp)) receiveUdp();
            }
        }
        printBulkSummary();
        if (connected) {
            if (!opt.abrupt) {
                sf::Packet bye;
                bye << sf::Uint8(DISCONNECT) << id;
                tcp.send(bye);
                line("SENT_DISCONNECT");
            }
            tcp.disconnect();
        }
        line("STATS updates_sent=%u bulk_udp=%u bulk_tcp=%u hb_tcp=%u hb_udp=%u disconnects=%zu bulk_unknown_ids=%u",
             updates, bulkUdp, bulkTcp, hbTcp, hbUdp, disconnectCount.size(), unknownBulkIds);
        for (auto& kv : disconnectCount) line("DISCONNECT_COUNT id=%u n=%u", kv.first, kv.second);
        line("END connected=%d", connected ? 1 : 0);
        return 0;
    }

private:
    const Options& opt;
    sf::IpAddress server;
    sf::TcpSocket tcp;
    sf::UdpSocket udp;
    sf::SocketSelector selector;
    sf::Uint32 id = 0;
    bool connected = true;
    unsigned bulkUdp = 0, bulkTcp = 0, hbTcp = 0, hbUdp = 0;
    std::map<sf::Uint32, unsigned> disconnectCount;
    std::set<sf::Uint32> known;  // ids announced by the confirm or a CONNECT broadcast (and own id)
    unsigned unknownBulkIds = 0;
    std::map<sf::Uint32, Ghost> lastSeen;  // latest ghost per id from bulk updates
    std::map<sf::Uint32, Ghost> firstSeen;
    std::set<int> hexShown;
    std::string lastBulkTransport = "-";
    unsigned lastBulkCount = 0;

    Ghost currentGhost(float t) const {
        Ghost g;
        if (opt.nan) {
            float q = std::numeric_limits<float>::quiet_NaN();
            for (int i = 0; i < 3; i++) g.pos[i] = g.ang[i] = q;
            return g;
        }
        g.pos[0] = opt.baseX + t * 10.0f;  // moves 10 units/s along x
        g.pos[1] = -50.0f;
        g.pos[2] = 64.0f;
        g.ang[0] = 1.5f;
        g.ang[1] = t;
        g.ang[2] = 0.0f;
        g.flags = 0x80 | 64;  // grounded, view offset 64
        return g;
    }

    void sendExtras() {
        sf::Packet ping, stop, model, color, finish, taunt, locator;
        ping << sf::Uint8(PING) << id;
        stop << sf::Uint8(STOP_SERVER) << id;
        model << sf::Uint8(MODEL_CHANGE) << id << std::string("models/player/chell/player.mdl");
        color << sf::Uint8(COLOR_CHANGE) << id << sf::Uint8(1) << sf::Uint8(2) << sf::Uint8(3);
        finish << sf::Uint8(SPEEDRUN_FINISH) << id << std::string("1:02.345");
        taunt << sf::Uint8(TAUNT) << id << std::string("wave");
        locator << sf::Uint8(LOCATOR) << id << 100.0f << -200.0f << 32.0f << 0.0f << 0.0f << 1.0f;
        pingSent = gClock.getElapsedTime();
        for (sf::Packet* p : {&ping, &stop, &model, &color, &finish, &taunt, &locator}) tcp.send(*p);
        line("SENT_EXTRAS ping stop_server model color finish taunt locator");
    }

    sf::Time pingSent;

    void sendData(sf::Packet& p) {
        if (opt.tcpOnly) tcp.send(p);
        else udp.send(p, server, opt.port);
    }

    void readEntity(sf::Packet& p, const char* event) {
        sf::Uint32 gid = 0;
        std::string name, model, map;
        Ghost g;
        sf::Uint8 r = 0, gg = 0, b = 0;
        bool spectator = false;
        p >> gid >> name >> g >> model >> map >> r >> gg >> b >> spectator;
        if (known.count(gid)) line("DUPLICATE_ANNOUNCE id=%u", gid);
        known.insert(gid);
        line("%s id=%u name=%s model=%s map=%s color=%u,%u,%u spectator=%d %s", event, gid, name.c_str(),
             model.c_str(), map.c_str(), r, gg, b, spectator ? 1 : 0, ghostText(g).c_str());
    }

    void showHex(const char* via, sf::Packet& p) {
        if (!opt.hex || p.getDataSize() == 0) return;
        int h = static_cast<const unsigned char*>(p.getData())[0];
        if (hexShown.insert(h).second) line("HEX via=%s header=%d %s", via, h, hexOf(p.getData(), p.getDataSize()).c_str());
    }

    void receiveTcp() {
        sf::Packet p;
        sf::Socket::Status s = tcp.receive(p);
        if (s == sf::Socket::Disconnected || s == sf::Socket::Error) {
            line("TCP_CLOSED status=%d", static_cast<int>(s));
            connected = false;
            return;
        }
        if (s != sf::Socket::Done) return;
        showHex("tcp", p);
        handle(p, "tcp");
    }

    void receiveUdp() {
        sf::Packet p;
        sf::IpAddress from;
        unsigned short fromPort = 0;
        if (udp.receive(p, from, fromPort) != sf::Socket::Done) return;
        if (from != server || fromPort != opt.port)
            line("UDP_FOREIGN from=%s:%u", from.toString().c_str(), fromPort);
        showHex("udp", p);
        handle(p, "udp");
    }

    void handle(sf::Packet& p, const char* via) {
        sf::Uint8 header = 255;
        p >> header;
        switch (header) {
        case PING:
            line("PING via=%s rtt_ms=%.2f", via, (gClock.getElapsedTime() - pingSent).asSeconds() * 1000.0);
            break;
        case CONNECT:
            readEntity(p, "CONNECT");
            break;
        case DISCONNECT: {
            sf::Uint32 gid = 0;
            p >> gid;
            disconnectCount[gid]++;
            line("DISCONNECT id=%u via=%s n=%u", gid, via, disconnectCount[gid]);
            lastSeen.erase(gid);
            if (!known.erase(gid)) line("DISCONNECT_UNKNOWN id=%u", gid);
            break;
        }
        case MAP_CHANGE: {
            sf::Uint32 gid = 0, ticks = 0, total = 0;
            std::string map;
            p >> gid >> map >> ticks >> total;
            line("MAP_CHANGE id=%u map=%s ticks=%u total=%u via=%s%s", gid, map.c_str(), ticks, total, via,
                 known.count(gid) ? "" : " UNKNOWN_ID");
            break;
        }
        case HEART_BEAT: {
            sf::Uint32 gid = 0, token = 0;
            p >> gid >> token;
            bool isTcp = std::strcmp(via, "tcp") == 0;
            if (isTcp) hbTcp++;
            else hbUdp++;
            if (gid != id) line("HEARTBEAT_WRONG_ID id=%u mine=%u via=%s", gid, id, via);
            if (isTcp) {
                line("HEARTBEAT id=%u token=%u via=tcp%s", gid, token, opt.noHeartbeat ? " (not answered)" : "");
                if (!opt.noHeartbeat) {
                    sf::Packet a;
                    a << sf::Uint8(HEART_BEAT) << id << token;
                    tcp.send(a);
                }
            } else {
                if (token != 0) line("HEARTBEAT_UDP_NONZERO token=%u", token);
                if (hbUdp == 1) line("HEARTBEAT id=%u token=%u via=udp (first)", gid, token);
                sf::Packet a;  // answer the keep-alive by UDP, token 0
                a << sf::Uint8(HEART_BEAT) << id << sf::Uint32(0);
                udp.send(a, server, opt.port);
            }
            break;
        }
        case MESSAGE: {
            sf::Uint32 gid = 0;
            std::string text;
            p >> gid >> text;
            line("MESSAGE id=%u text=%s via=%s%s%s", gid, text.c_str(), via, gid == id ? " OWN_ECHO" : "",
                 gid != 0 && !known.count(gid) ? " UNKNOWN_ID" : "");
            break;
        }
        case COUNTDOWN: {
            sf::Uint32 gid = 0;
            sf::Uint8 step = 0;
            p >> gid >> step;
            if (step == 0) {
                sf::Uint32 duration = 0;
                std::string pre, post;
                p >> duration >> pre >> post;
                line("COUNTDOWN_SETUP id=%u duration=%u pre=%s post=%s via=%s", gid, duration, pre.c_str(),
                     post.c_str(), via);
                sf::Packet c;
                c << sf::Uint8(COUNTDOWN) << id << sf::Uint8(1);
                tcp.send(c);
                line("SENT_COUNTDOWN_CONFIRM");
            } else {
                line("COUNTDOWN_GO id=%u step=%u via=%s", gid, step, via);
            }
            break;
        }
        case UPDATE: {
            sf::Uint32 zero = 0, count = 0;
            p >> zero >> count;
            if (zero != 0) line("BULK_NONZERO_ID id=%u", zero);
            if (std::strcmp(via, "udp") == 0) bulkUdp++;
            else bulkTcp++;
            std::string text;
            for (sf::Uint32 i = 0; i < count && p; i++) {
                sf::Uint32 gid = 0;
                Ghost g;
                p >> gid >> g;
                if (!p) break;
                if (!known.count(gid) && unknownBulkIds++ < 5) line("BULK_UNKNOWN_ID id=%u via=%s", gid, via);
                if (!firstSeen.count(gid)) firstSeen[gid] = g;
                lastSeen[gid] = g;
                char buf[64];
                std::snprintf(buf, sizeof buf, " %u:x=%.2f", gid, g.pos[0]);
                text += buf;
            }
            lastBulkTransport = via;
            lastBulkCount = count;
            if (opt.bulkVerbose) line("BULK via=%s count=%u%s", via, count, text.c_str());
            break;
        }
        case SPEEDRUN_FINISH: case MODEL_CHANGE: case TAUNT: {
            sf::Uint32 gid = 0;
            std::string s;
            p >> gid >> s;
            line("RELAY header=%u id=%u text=%s via=%s", header, gid, s.c_str(), via);
            break;
        }
        case COLOR_CHANGE: {
            sf::Uint32 gid = 0;
            sf::Uint8 r, g, b;
            p >> gid >> r >> g >> b;
            line("COLOR_CHANGE id=%u color=%u,%u,%u via=%s", gid, r, g, b, via);
            break;
        }
        case LOCATOR: {
            sf::Uint32 gid = 0;
            float v[6];
            p >> gid >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5];
            line("LOCATOR id=%u pos=%.2f,%.2f,%.2f normal=%.2f,%.2f,%.2f via=%s", gid, v[0], v[1], v[2], v[3], v[4],
                 v[5], via);
            break;
        }
        default:
            line("UNKNOWN header=%u size=%zu via=%s hex=%s", header, p.getDataSize(), via,
                 hexOf(p.getData(), p.getDataSize()).c_str());
            return;
        }
        checkEnd(p, std::to_string(header).c_str());
    }

    void printBulkSummary() {
        std::string text;
        for (auto& kv : lastSeen) {
            const Ghost& f = firstSeen[kv.first];
            char buf[200];
            std::snprintf(buf, sizeof buf, " [%u %s moved=%.2f]", kv.first, ghostText(kv.second).c_str(),
                          kv.second.pos[0] - f.pos[0]);
            text += buf;
        }
        line("BULK_SUMMARY via=%s bulk_udp=%u bulk_tcp=%u last_count=%u%s", lastBulkTransport.c_str(), bulkUdp,
             bulkTcp, lastBulkCount, text.c_str());
    }
};

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    bool wantSelfTest = false;
    if (!parseArgs(argc, argv, opt, wantSelfTest)) {
        std::fprintf(stderr,
                     "usage: probe --host H --port P --name N [--spectator] [--tcp-only] [--map M] [--model M]\n"
                     "             [--color r,g,b] [--say text]... [--say-at S] [--change-map M] [--change-at S]\n"
                     "             [--seconds S] [--x X] [--nan] [--no-heartbeat] [--abrupt] [--bulk-verbose] [--hex]\n"
                     "       probe --selftest\n");
        return 2;
    }
    if (wantSelfTest) return selfTest();
    Probe probe(opt);
    return probe.run();
}
