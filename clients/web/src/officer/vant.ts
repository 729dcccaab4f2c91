// The Vant components this app uses, each with its own styles, so that the bundle carries
// only these (Vant's full build is several times the first-load budget).
import type { App } from 'vue'
import {
  Button,
  Cell,
  CellGroup,
  Empty,
  Field,
  Icon,
  Loading,
  Switch,
  Tabbar,
  TabbarItem,
  Tag,
} from 'vant'
import 'vant/es/button/style/index'
import 'vant/es/cell/style/index'
import 'vant/es/cell-group/style/index'
import 'vant/es/empty/style/index'
import 'vant/es/field/style/index'
import 'vant/es/icon/style/index'
import 'vant/es/loading/style/index'
import 'vant/es/switch/style/index'
import 'vant/es/tabbar/style/index'
import 'vant/es/tabbar-item/style/index'
import 'vant/es/tag/style/index'
// The function-style ones (showToast, showConfirmDialog) are imported where used; their
// styles are loaded here once.
import 'vant/es/toast/style/index'
import 'vant/es/dialog/style/index'

export function useVant(app: App): void {
  for (const c of [Button, Cell, CellGroup, Empty, Field, Icon, Loading, Switch, Tabbar, TabbarItem, Tag])
    app.use(c)
}
