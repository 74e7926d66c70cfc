// District codes (GB/T 2260) by name, wherever the UI shows a district: 西湖区 in Chinese, Xihu in
// English. The table holds the districts of the cities whose map ships with the dashboard
// (dashboard/ui/maps/, the same names as the maps' properties; test/dashboard/districts.test.ts)
// and the codes those cities used before their last reorganisation, so that devices
// registered under an old code still read as a place. Kept here rather than loaded, so a
// name never waits for a request and every view can use it at once.
import { getLang } from './i18n.js';

/** code -> [Chinese, English] */
const names = new Map([
  ['330100', ['杭州市', 'Hangzhou']],
  ['330102', ['上城区', 'Shangcheng']],
  ['330105', ['拱墅区', 'Gongshu']],
  ['330106', ['西湖区', 'Xihu']],
  ['330108', ['滨江区', 'Binjiang']],
  ['330109', ['萧山区', 'Xiaoshan']],
  ['330110', ['余杭区', 'Yuhang']],
  ['330111', ['富阳区', 'Fuyang']],
  ['330112', ['临安区', "Lin'an"]],
  ['330113', ['临平区', 'Linping']],
  ['330114', ['钱塘区', 'Qiantang']],
  ['330122', ['桐庐县', 'Tonglu']],
  ['330127', ['淳安县', "Chun'an"]],
  ['330182', ['建德市', 'Jiande']],
  // before 2021 (merged into 拱墅区 and 上城区) and before 2017 (临安 a county-level city)
  ['330103', ['下城区', 'Xiacheng']],
  ['330104', ['江干区', 'Jianggan']],
  ['330185', ['临安市', "Lin'an"]],
]);

/** The name table's codes (6 digits) and names, for the tests and the map. */
export const districtNames = names;

/**
 * A district code as the UI shows it: the district's name in the current language; a longer
 * code (a street or community, 9 or 12 digits) as its district's name and the rest of the
 * code; a city's 4-digit prefix as the city; a code the table does not have as the code
 * itself; nothing ('') for none.
 */
export function districtName(code, lang = getLang()) {
  if (code === null || code === undefined || code === '') return '';
  const c = String(code);
  const i = lang === 'en' ? 1 : 0;
  if (/^\d{4}$/.test(c)) return names.get(`${c}00`)?.[i] ?? c;
  const own = names.get(c.slice(0, 6));
  if (!/^\d{6,}$/.test(c) || !own) return c;
  return c.length === 6 ? own[i] : `${own[i]} ${c.slice(6)}`;
}
