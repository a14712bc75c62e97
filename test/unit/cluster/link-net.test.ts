// The cluster link tests again with plain TCP on net.Socket (cluster link `rawSockets: false`, as on a
// Node major without tested raw handles) instead of raw libuv handles.
process.env.PETREL_TEST_LINK_NET = '1';
await import('./link.test.js');
