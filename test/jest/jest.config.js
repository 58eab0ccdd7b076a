// A user's Jest setup: the default `testEnvironment: 'node'`, which runs every test file in
// its own vm context. promsd is required from its build, as an installed package would be.
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.jest.js'],
};
